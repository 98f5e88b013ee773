"""Experiments: data-recipe sweeps (`evalkit sweep`) as LIMA's Figure 5 (score by data source) and
Figure 6 (score by data size, log axis), with 95% bootstrap intervals, Yi's ability-proportion grid when
the sweep had one, the chosen cell with its significance against the runner-up, and every cell.
Read straight from the sweeps / sweep_cells tables, which are small."""

from __future__ import annotations

import streamlit as st

from evalkit.leaderboard import experiment_charts
from evalkit.leaderboard.store_access import PageTimer, current_store
from evalkit.store.data_tables import cells_frame, sweeps_frame

timer = PageTimer()
st.title("Experiments")
store = current_store()
sweeps = sweeps_frame(store)
if sweeps.empty:
    st.info(
        "No data-recipe sweeps yet. Run `evalkit sweep --data A.jsonl B.jsonl --sizes 2000,4000 --model BASE` "
        "and its cells appear here."
    )
    timer.footer()
    st.stop()

labels = {row.sweep_key: f"{row.name} · {row.sweep_key[:8]}" for row in sweeps.itertuples()}
keys = list(reversed(list(labels)))  # the latest sweep first
sweep_key = st.selectbox("Sweep", keys, format_func=labels.__getitem__, key="experiments_sweep")
sweep = sweeps.set_index("sweep_key").loc[sweep_key]
cells = cells_frame(store, sweep_key)
if cells.empty:
    st.info("This sweep has no finished cell yet; re-run its `evalkit sweep` command to continue it.")
    timer.footer()
    st.stop()

best = sweep["best"]
if isinstance(best, dict):
    left, right = st.columns(2)
    left.metric(
        "Best cell", f"{best['source']} · {best['n_examples']} examples", f"win rate {best['win_rate']:.1f}%", delta_color="off"
    )
    versus = best.get("vs_runner_up")
    if versus:
        verdict = "significant" if versus["significant"] else "not significant"
        right.markdown(
            f"**Best vs runner-up** ({versus['runner_up']}): {versus['difference']:+.1f} points, 95% CI "
            f"[{versus['ci_low']:.1f}, {versus['ci_high']:.1f}], paired bootstrap p = {versus['p_value']:.3f} "
            f"— {verdict}."
        )

base = experiment_charts.base_cells(cells)
if not base.empty:
    sizes = sorted(base["size"].unique())
    size = st.select_slider("Data size for the by-source figure", options=sizes, value=sizes[0]) if len(sizes) > 1 else sizes[0]
    st.subheader("Score by data source (LIMA Figure 5)")
    st.altair_chart(experiment_charts.by_source(cells, int(size)), width="stretch")
    st.subheader("Score by data size (LIMA Figure 6)")
    st.altair_chart(experiment_charts.by_size(cells), width="stretch")
if cells["ability"].notna().any():
    st.subheader("Ability proportions (Yi's grid)")
    st.altair_chart(experiment_charts.by_proportion(cells), width="stretch")

st.subheader("Every cell")
shown = cells.drop(columns=["sweep_key", "cell_key", "data_hash"]).sort_values(["source", "size", "ability", "proportion"])
st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    column_config={
        "win_rate": st.column_config.NumberColumn("win rate (%)", format="%.1f"),
        "ci_low": st.column_config.NumberColumn("CI low", format="%.1f"),
        "ci_high": st.column_config.NumberColumn("CI high", format="%.1f"),
    },
)
timer.footer()
