"""Leaderboard: every model in the store with its win rates, win/tie/loss shares and Likert mean,
the LIMA-style preference bars (exportable for papers), and the table as CSV."""

from __future__ import annotations

import streamlit as st

from evalkit.leaderboard import charts, data, filters, tables
from evalkit.leaderboard.export import export_buttons
from evalkit.leaderboard.store_access import PageTimer

timer = PageTimer()
COLUMNS: dict[str, tuple[str, str | None, str]] = {  # column -> (title, number format, help)
    "model": ("Model", None, "Name in the store"),
    "run": ("Run", None, "Training run of a checkpoint"),
    "epoch": ("Epoch", "%d", "Checkpoint epoch"),
    "ae_win_rate": ("AlpacaEval WR", "%.1f", "AlpacaEval win rate, % (tie = half a win)"),
    "ae_se": ("AE ± SE", "%.1f", "Standard error of the AlpacaEval win rate"),
    "ae_lc": ("LC WR", "%.1f", "Length-controlled win rate, %"),
    "lc_variant": ("LC variant", None, "How the LC win rate was fit (alpaca-eval GLM variant)"),
    "ae_n": ("AE n", "%d", "Prompts with a valid AlpacaEval verdict"),
    "ae_invalid": ("AE invalid", "%d", "AlpacaEval verdicts that could not be parsed"),
    "win_pct": ("Win %", "%.1f", "Pairwise judge, both orders agree the model is better"),
    "tie_pct": ("Tie %", "%.1f", "Pairwise judge: tie, or the two orders disagree"),
    "loss_pct": ("Loss %", "%.1f", "Pairwise judge: the baseline is better"),
    "pw_win_rate": ("Pairwise WR", "%.1f", "Pairwise win rate, % (tie = half a win)"),
    "pw_se": ("Pairwise ± SE", "%.1f", "Standard error of the pairwise win rate"),
    "pw_n": ("Pairwise n", "%d", "Prompts with valid verdicts in both orders"),
    "pw_invalid": ("Pairwise invalid", "%d", "Prompts with an unparseable verdict in either order"),
    "likert_mean": ("Likert", "%.2f", "Mean 1-6 helpfulness"),
    "likert_low": ("95% CI low", "%.2f", "Bootstrap interval over prompts"),
    "likert_high": ("95% CI high", "%.2f", "Bootstrap interval over prompts"),
    "likert_n": ("Likert n", "%d", "Valid Likert grades"),
    "likert_invalid": ("Likert invalid", "%d", "Likert replies that could not be parsed"),
}

st.title("Leaderboard")
served = data.results()
data.freshness_note(served)
snapshot = served.snapshot
selection = filters.results_selection(snapshot)
labels = filters.judge_labels(snapshot)
board = tables.leaderboard_rows(snapshot, selection)

if snapshot.pairwise_summary.empty and snapshot.likert_summary.empty:
    st.info("No judgments in the store yet: run `evalkit judge` (or `evalkit run`) and rerun this page.")
else:
    base = tables.baselines(snapshot)
    baseline_names = dict(zip(base["baseline_id"].astype(int), base["baseline"]))
    chart_judges = [key for key in labels if key in tables.judge_keys(snapshot.pairwise_summary)]
    with st.container(border=True):
        st.subheader("Win / tie / loss against the baseline")
        left, middle, right = st.columns([2, 3, 2])
        default_judge = selection.pairwise_judge or selection.alpaca_judge
        chart_judge = left.selectbox("Judge", chart_judges, format_func=labels.__getitem__,
                                     index=chart_judges.index(default_judge) if default_judge in chart_judges else 0)
        judged = board[board["model_id"].isin(snapshot.pairwise_summary["model_id"])]
        model_names = dict(zip(judged["model_id"].astype(int), judged["model"]))
        chosen_models = middle.multiselect("Models", list(model_names), default=list(model_names)[:5],
                                           format_func=model_names.__getitem__)
        chosen_baselines = right.multiselect("Baselines", list(baseline_names), format_func=baseline_names.__getitem__,
                                             default=[selection.baseline_id] if selection.baseline_id is not None else [])
        shares = tables.preference_shares(snapshot, selection.scope, chart_judge, chosen_models, chosen_baselines)
        if shares.empty:
            st.caption("No verdicts of this judge for the chosen models and baselines.")
        else:
            chart = charts.preference_bars(shares, title=f"Preference ({labels[chart_judge]}, {selection.scope})")
            st.altair_chart(chart, width="stretch")
            export_buttons(chart, "preference_bars", key="bars")

shown = [c for c in COLUMNS if c in board.columns and (c in ("model", "run", "epoch") or board[c].notna().any())]
display = board[shown]
st.dataframe(
    display, hide_index=True, width="stretch",
    column_config={c: st.column_config.NumberColumn(COLUMNS[c][0], format=COLUMNS[c][1], help=COLUMNS[c][2])
                   if COLUMNS[c][1] else st.column_config.TextColumn(COLUMNS[c][0], help=COLUMNS[c][2]) for c in shown},
)
st.download_button("Download CSV", data=display.rename(columns={c: COLUMNS[c][0] for c in shown}).to_csv(index=False),
                   file_name="leaderboard.csv", mime="text/csv", icon=":material/download:", on_click="ignore")
st.caption(f"{len(board)} models: " + " · ".join(board["model"].astype(str)))
timer.footer()
