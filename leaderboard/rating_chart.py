"""LIMA's Figure 3 as an Altair chart: one horizontal bar per model and rater (humans, each absolute
judge), split into Fail / Pass / Excellent. Pure: tidy frame in, chart out."""

from __future__ import annotations

import altair as alt
import pandas as pd

from evalkit.core.ordering import natural_sorted
from evalkit.core.rounding import format_figure
from evalkit.stats.absolute import RATING_ORDER

RATING_COLORS = ("#e45756", "#c7c7c7", "#4c78a8")  # fail red, pass grey, excellent blue
RATING_TITLES = {"fail": "Fail", "pass": "Pass", "excellent": "Excellent"}


def rating_bars(shares: pd.DataFrame, title: str = "") -> alt.LayerChart:
    """`shares` has model, source, fail, pass, excellent (fractions summing to 1) and n."""
    frame = shares.assign(row=shares["model"] + " · " + shares["source"] + " (n=" + shares["n"].astype(str) + ")")
    rows = list(dict.fromkeys(natural_sorted(frame, ["model", "source"])["row"]))  # epoch-2 before epoch-10
    long = frame.melt(id_vars=["row"], value_vars=list(RATING_ORDER), var_name="rating", value_name="share")
    long["rank"] = long["rating"].map({r: i for i, r in enumerate(RATING_ORDER)})
    long = long.sort_values(["row", "rank"])
    long["end"] = long.groupby("row")["share"].cumsum()
    long["start"] = long["end"] - long["share"]
    long["mid"] = (long["start"] + long["end"]) / 2
    long["label"] = [format_figure(100 * share, 0) + "%" for share in long["share"]]  # rounded as every surface rounds
    long["legend"] = long["rating"].map(RATING_TITLES)
    y = alt.Y("row:N", sort=rows, title=None, axis=alt.Axis(labelLimit=360))
    base = alt.Chart(long)
    bars = base.mark_bar(height={"band": 0.75}).encode(
        x=alt.X("start:Q", title="share of answers", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        x2="end:Q",
        y=y,
        color=alt.Color(
            "legend:N",
            scale=alt.Scale(domain=[RATING_TITLES[r] for r in RATING_ORDER], range=list(RATING_COLORS)),
            legend=alt.Legend(title=None, orient="top"),
        ),
        tooltip=[
            alt.Tooltip("row:N", title="model · rater"),
            alt.Tooltip("legend:N", title="rating"),
            alt.Tooltip("share:Q", format=".1%"),
        ],
    )
    text = (
        base.transform_filter("datum.share >= 0.06").mark_text(fontSize=11, color="black").encode(x="mid:Q", y=y, text="label:N")
    )
    return (bars + text).properties(title=title, width=560, height=alt.Step(34))
