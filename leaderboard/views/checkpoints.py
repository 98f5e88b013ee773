"""Checkpoints: one training run's metrics by epoch with their intervals, the selection window shaded,
and the picked checkpoint with the decision record that explains the pick."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.core.ordering import natural_key
from evalkit.core.rounding import format_figure
from evalkit.decision.evidence import human_labels_sentence, power_sentence, stored_record
from evalkit.leaderboard import charts, columns, data, filters, tables
from evalkit.leaderboard.store_access import PageTimer

timer = PageTimer()


def _number(value: object, digits: int, sign: bool = False) -> str:
    """A recorded number, rounded as every surface rounds; the picker stores a missing one as null."""
    return format_figure(value, digits, sign=sign, missing="—")


DEFAULT_WINDOW = (5, 10)  # LIMA picks between epochs 5 and 10

st.title("Checkpoints")
served = data.results()
data.freshness_note(served)
snapshot = served.snapshot
selection = filters.results_selection(snapshot)
labels = filters.judge_labels(snapshot)

runs = sorted(snapshot.models["run"].dropna().astype(str).unique(), key=natural_key)
if not runs:
    st.info(
        "No checkpoints with a training run in the store yet: `evalkit run --checkpoint ckpt/` records each "
        "epoch's checkpoint with its run."
    )
    timer.footer()
    st.stop()

decisions = data.decisions()
latest_decided = decisions["run"].iloc[-1] if not decisions.empty else None
run = filters.remembered_select("Training run", runs, "run", container=st, default=latest_decided)
decision = decisions[decisions["run"] == run].tail(1)
record = decision.iloc[0] if not decision.empty else None
evidence = stored_record(record["evidence"]) if record is not None else {}
window = tuple(evidence.get("window", DEFAULT_WINDOW)) if isinstance(evidence, dict) else DEFAULT_WINDOW
picked_epoch = int(record["epoch"]) if record is not None and pd.notna(record["epoch"]) else None

series = tables.epoch_metrics(snapshot, selection, run, labels)
if series.empty:
    st.info(f"No judged checkpoints in run {run!r} for the selected judges and baseline.")
else:
    metrics = list(dict.fromkeys(series["metric"]))
    grid = st.columns(2)
    for index, metric in enumerate(metrics):
        points = series[series["metric"] == metric]
        chart = charts.epoch_curve(
            points,
            metric,
            window=(int(window[0]), int(window[1])),
            picked_epoch=picked_epoch,
            value_format=".1f" if "Likert" in metric else ".0f",
        )
        grid[index % 2].altair_chart(chart, width="stretch", height=280)
    st.caption(
        f"Shaded: the selection window, epochs {window[0]}–{window[1]}. Bands: 95% bootstrap intervals over "
        "prompts. Dashed line: the picked checkpoint."
    )

st.subheader("Decision")
if record is None:
    st.write(f"No checkpoint has been picked for run {run!r} yet (`evalkit pick`).")
else:
    when = pd.to_datetime(record["created_at"]).strftime("%Y-%m-%d %H:%M") if pd.notna(record["created_at"]) else "?"
    left, middle, right = st.columns(3)
    tied = isinstance(evidence, dict) and evidence.get("decided") is False
    left.metric("Picked checkpoint (tied)" if tied else "Picked checkpoint", str(record["chosen_name"]))
    middle.metric("Epoch", "—" if picked_epoch is None else picked_epoch)
    right.metric("Policy", str(record["policy"]))
    st.caption(f"Decided {when}" + (f" · {evidence['reason']}" if isinstance(evidence, dict) and evidence.get("reason") else ""))
    significance = evidence.get("significance") if isinstance(evidence, dict) else None
    if isinstance(significance, dict) and significance.get("runner_up") is not None:
        level = significance.get("level", 0.95)
        st.markdown(
            f"**Best vs runner-up:** {significance.get('best')} − {significance.get('runner_up')} = "
            f"{_number(significance.get('difference'), 1, sign=True)} win-rate points, "
            f"{_number(100 * level if isinstance(level, (int, float)) else None, 0)}% interval "
            f"[{_number(significance.get('ci_low'), 1, sign=True)}, {_number(significance.get('ci_high'), 1, sign=True)}], "
            f"p = {_number(significance.get('p_value'), 3)} over {significance.get('n', '?')} prompts"
        )
    guidance = power_sentence(evidence) if isinstance(evidence, dict) else None
    if guidance is not None:
        st.markdown(f"**Power:** {guidance}")
    labels_needed = human_labels_sentence(evidence) if isinstance(evidence, dict) else None
    if labels_needed is not None:
        st.markdown(f"**Human labels:** {labels_needed}")
    if isinstance(evidence, dict) and evidence.get("decided") is False:
        needed = evidence.get("prompts_to_separate")
        st.warning(
            "**Tied:** no checkpoint in the window is better on this evidence; the pick is the earliest epoch by "
            "convention."
            + (f" About {needed} prompts would separate best and runner-up at the observed difference." if needed else "")
        )
    rows = (evidence.get("rows") or evidence.get("evidence")) if isinstance(evidence, dict) else None
    if isinstance(rows, list) and rows:
        frame = pd.DataFrame(rows)
        figures = frame.select_dtypes("float").columns
        st.dataframe(frame.assign(**{c: columns.rounded(frame[c], 2) for c in figures}), hide_index=True, width="stretch")
    with st.expander("Decision record (as stored)"):
        st.json(evidence)

board = tables.leaderboard_rows(snapshot, selection)
run_rows = board[board["run"] == run].sort_values("epoch")
keep = columns.shown_columns(
    run_rows,
    (
        "model",
        "epoch",
        "ae_win_rate",
        "ae_se",
        "ae_combined",
        "ae_combined_low",
        "ae_combined_high",
        "ae_n_humans",
        "ae_lc",
        "ae_lc_se",
        "ae_lc_withheld",
        "pw_win_rate",
        "pw_se",
        "pw_combined",
        "pw_combined_low",
        "pw_combined_high",
        "pw_n_humans",
        "pw_lc",
        "pw_lc_se",
        "pw_lc_withheld",
        "win_pct",
        "tie_pct",
        "loss_pct",
        "likert_mean",
        "likert_low",
        "likert_high",
    ),
)
st.dataframe(columns.displayed(run_rows, keep), hide_index=True, width="stretch", column_config=columns.column_config(keep))
timer.footer()
