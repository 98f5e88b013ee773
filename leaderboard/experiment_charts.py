"""Charts of data-recipe sweeps (LIMA Figures 5 and 6), from the rows of the sweep_cells table:
win rate vs the baseline with its 95% bootstrap interval, by data source and by data size."""

from __future__ import annotations

import altair as alt
import pandas as pd

TOOLTIP = [
    "source",
    "size",
    "n_examples",
    alt.Tooltip("win_rate:Q", format=".1f"),
    alt.Tooltip("ci_low:Q", format=".1f"),
    alt.Tooltip("ci_high:Q", format=".1f"),
    "checkpoint",
]


def base_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells with every ability at its full share: the source x size grid of Figures 5 and 6."""
    return cells[cells["ability"].isna()].sort_values(["source", "size"])


def by_source(cells: pd.DataFrame, size: int) -> alt.LayerChart:
    """Figure 5: one bar per source at one data size, with its interval."""
    frame = base_cells(cells)
    frame = frame[frame["size"] == size]
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("source:N", sort="-y", title="training data source"),
            y=alt.Y("win_rate:Q", title="win rate vs baseline (%)", scale=alt.Scale(domain=[0, 100])),
            tooltip=TOOLTIP,
        )
    )
    rules = alt.Chart(frame).mark_errorbar(ticks=True).encode(x="source:N", y=alt.Y("ci_low:Q", title=""), y2="ci_high:Q")
    return alt.layer(bars, rules).properties(title=f"Score by data source ({size} examples each)", height=320)  # type: ignore[return-value]  # stubs: LayerChart | FacetChart


def by_size(cells: pd.DataFrame) -> alt.LayerChart:
    """Figure 6: win rate against data size on a log axis, one line per source, with intervals."""
    frame = base_cells(cells)
    x = alt.X("size:Q", title="training examples (log scale)", scale=alt.Scale(type="log", base=2))
    line = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("win_rate:Q", title="win rate vs baseline (%)", scale=alt.Scale(domain=[0, 100])),
            color="source:N",
            tooltip=TOOLTIP,
        )
    )
    band = alt.Chart(frame).mark_errorbar(ticks=True).encode(x=x, y=alt.Y("ci_low:Q", title=""), y2="ci_high:Q", color="source:N")
    return alt.layer(line, band).properties(title="Score by data size", height=320)  # type: ignore[return-value]  # stubs: LayerChart | FacetChart


def by_proportion(cells: pd.DataFrame) -> alt.Chart:
    """Yi's grid: each ability's proportion (log axis) against win rate, one line per ability."""
    frame = cells[cells["ability"].notna()].sort_values("proportion")
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "proportion:Q", title="share of the ability's examples kept (log scale)", scale=alt.Scale(type="log", base=2)
            ),
            y=alt.Y("win_rate:Q", title="win rate vs baseline (%)"),
            color="ability:N",
            tooltip=[*TOOLTIP, "ability", "proportion"],
        )
        .properties(title="Ability proportions", height=320)
    )
