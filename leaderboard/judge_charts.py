"""Figures of the Judges page: agreement with humans (intervals, the humans' ceiling as a rule) and
the two biases (P(prefer first shown), P(prefer longer); 0.5 = none). Pure: rows in, chart out."""

from __future__ import annotations

import altair as alt
import pandas as pd

AGREEMENT = "human_agreement_tie_discounted"


def agreement_chart(rows: pd.DataFrame) -> alt.LayerChart:
    """Each judge's tie-discounted agreement with the humans' mode and its interval; the rule is the
    humans' own agreement with each other (the first row)."""
    judges = rows.iloc[1:].dropna(subset=[AGREEMENT])
    order = list(judges.sort_values(AGREEMENT, ascending=False)["name"])
    y = alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=320))
    x = alt.X(f"{AGREEMENT}:Q", title="tie-discounted agreement with the humans' mode", scale=alt.Scale(domain=[0, 1]))
    points = (
        alt.Chart(judges)
        .mark_point(filled=True, size=80)
        .encode(x=x, y=y, tooltip=["name:N", alt.Tooltip(f"{AGREEMENT}:Q", format=".3f"), "n:Q"])
    )
    bars = alt.Chart(judges).mark_rule().encode(x=f"{AGREEMENT}_ci_low:Q", x2=f"{AGREEMENT}_ci_high:Q", y=y)
    ceiling = (
        alt.Chart(rows.iloc[:1].dropna(subset=[AGREEMENT]))
        .mark_rule(strokeDash=[4, 4], color="#f58518")
        .encode(x=f"{AGREEMENT}:Q", tooltip=[alt.Tooltip(f"{AGREEMENT}:Q", title="humans vs each other", format=".3f")])
    )
    return (bars + points + ceiling).properties(width=560, height=alt.Step(30))


def bias_chart(rows: pd.DataFrame) -> alt.LayerChart:
    """P(prefer the first shown answer) and P(prefer the longer answer) per rater; the rule at 0.5 is no bias."""
    long = rows.melt(id_vars=["name"], value_vars=["prefer_first", "prefer_longer"], var_name="bias", value_name="share")
    long = long.dropna(subset=["share"])
    long["bias"] = long["bias"].map({"prefer_first": "prefers the first shown", "prefer_longer": "prefers the longer"})
    y = alt.Y("name:N", sort=list(rows["name"]), title=None, axis=alt.Axis(labelLimit=320))
    points = (
        alt.Chart(long)
        .mark_point(filled=True, size=80)
        .encode(
            x=alt.X("share:Q", title="share of decisive verdicts", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            y=y,
            color=alt.Color("bias:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=["name:N", "bias:N", alt.Tooltip("share:Q", format=".1%")],
        )
    )
    unbiased = alt.Chart(pd.DataFrame({"share": [0.5]})).mark_rule(strokeDash=[4, 4], color="#888").encode(x="share:Q")
    return (points + unbiased).properties(width=560, height=alt.Step(30))
