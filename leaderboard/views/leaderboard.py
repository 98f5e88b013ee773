"""Leaderboard: every model in the store with its win rates, win/tie/loss shares and Likert mean,
the LIMA-style preference bars (exportable for papers), and the table as CSV."""

from __future__ import annotations

import streamlit as st

from evalkit.leaderboard import charts, columns, data, filters, tables
from evalkit.leaderboard.export import export_buttons
from evalkit.leaderboard.plain_text import escape_markdown
from evalkit.leaderboard.store_access import PageTimer

timer = PageTimer()
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
        chart_judge = left.selectbox(
            "Judge",
            chart_judges,
            format_func=labels.__getitem__,
            index=chart_judges.index(default_judge) if default_judge in chart_judges else 0,
        )
        judged = board[board["model_id"].isin(snapshot.pairwise_summary["model_id"])]
        model_names = dict(zip(judged["model_id"].astype(int), judged["model"]))
        chosen_models = middle.multiselect(
            "Models", list(model_names), default=list(model_names)[:5], format_func=model_names.__getitem__
        )
        chosen_baselines = right.multiselect(
            "Baselines",
            list(baseline_names),
            format_func=baseline_names.__getitem__,
            default=[selection.baseline_id] if selection.baseline_id is not None else [],
        )
        shares = tables.preference_shares(
            snapshot, selection.scope, chart_judge, chosen_models, chosen_baselines, selection.decoding
        )
        if shares.empty:
            st.caption("No verdicts of this judge for the chosen models and baselines.")
        else:
            chart = charts.preference_bars(shares, title=f"Preference ({labels[chart_judge]}, {selection.scope})")
            st.altair_chart(chart, width="stretch", theme=None)
            export_buttons(chart, "preference_bars", key="bars")

shown = [c for c in columns.shown_columns(board) if c not in columns.CSV_ONLY]
st.dataframe(columns.displayed(board, shown), hide_index=True, width="stretch", column_config=columns.column_config(shown))
if any(column.endswith("_combined") for column in shown):
    st.caption(
        "Combined: the human + judge (PPI++) win rate of models with human labels, with its 95% interval beside the "
        "judge-only win rate and standard error; it estimates what the humans would say had they labelled every judged prompt."
    )
exported = columns.shown_columns(board)
st.download_button(
    "Download CSV",
    data=columns.titled(board, exported).to_csv(index=False),
    file_name="leaderboard.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)
st.caption(f"{len(board)} model{'' if len(board) == 1 else 's'}: " + " · ".join(map(escape_markdown, board["model"])))
timer.footer()
