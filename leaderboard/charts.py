"""Altair figures. Pure functions: tidy DataFrame in, chart out (no Streamlit, no store), so the
same chart is shown in the app and exported to PNG/SVG for a paper."""

from __future__ import annotations

import altair as alt
import pandas as pd

from evalkit.core.rounding import format_figure
from evalkit.core.vocabulary import OUTCOMES

OUTCOME_ORDER = OUTCOMES
OUTCOME_COLORS = ("#4c78a8", "#c7c7c7", "#f58518")  # colour-blind safe blue / grey / orange
FONT = "Helvetica, Arial, sans-serif"


def preference_bars(shares: pd.DataFrame, title: str = "", row_title: str = "") -> alt.LayerChart:
    """LIMA Figures 1-2: one horizontal bar per comparison, split into model wins / tie / baseline wins.

    `shares` has columns `row` (e.g. "epoch-7 vs gpt-3.5"), `win`, `tie`, `loss` (fractions of valid
    verdicts, summing to 1) and optionally `n`. Rows keep the frame's order."""
    rows = list(dict.fromkeys(shares["row"]))
    long = shares.melt(id_vars=["row"], value_vars=list(OUTCOME_ORDER), var_name="outcome", value_name="share")
    long["outcome_rank"] = long["outcome"].map({o: i for i, o in enumerate(OUTCOME_ORDER)})
    long = long.sort_values(["row", "outcome_rank"])
    long["end"] = long.groupby("row")["share"].cumsum()
    long["start"] = long["end"] - long["share"]
    long["mid"] = (long["start"] + long["end"]) / 2
    long["label"] = [format_figure(100 * share, 0) + "%" for share in long["share"]]  # rounded as every surface rounds
    long["legend"] = long["outcome"].map({"win": "Model wins", "tie": "Tie", "loss": "Baseline wins"})
    legend_domain = ["Model wins", "Tie", "Baseline wins"]
    y = alt.Y("row:N", sort=rows, title=row_title or None, axis=alt.Axis(labelLimit=320))
    base = alt.Chart(long)
    bars = base.mark_bar(height={"band": 0.75}).encode(
        x=alt.X("start:Q", title="share of comparisons", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        x2="end:Q",
        y=y,
        color=alt.Color(
            "legend:N",
            scale=alt.Scale(domain=legend_domain, range=list(OUTCOME_COLORS)),
            legend=alt.Legend(title=None, orient="top"),
        ),
        tooltip=[
            alt.Tooltip("row:N", title="comparison"),
            alt.Tooltip("legend:N", title="outcome"),
            alt.Tooltip("share:Q", title="share", format=".1%"),
        ],
    )
    text = (
        base.transform_filter("datum.share >= 0.06").mark_text(fontSize=11, color="black").encode(x="mid:Q", y=y, text="label:N")
    )
    return (
        (bars + text)
        .properties(title=title, width=560, height=alt.Step(34))
        .configure_axis(labelFont=FONT, titleFont=FONT)
        .configure_legend(labelFont=FONT)
        .configure_title(font=FONT, anchor="start")
    )


def epoch_curve(
    points: pd.DataFrame,
    metric: str,
    window: tuple[int, int] | None = (5, 10),
    picked_epoch: int | None = None,
    value_format: str = ".0f",
) -> alt.LayerChart:
    """A metric by epoch with its confidence band, the selection window shaded and the pick marked.

    `points` has columns `epoch`, `value`, `lo`, `hi` (lo/hi may be NaN when no interval exists).
    `metric` reads "judge: quantity"; the quantity titles the chart and its axis, the judge is the
    subtitle (a long vertical axis title would overflow the chart's height)."""
    fmt = value_format
    judge, _, quantity = metric.rpartition(": ")
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d"))
    layers: list[alt.Chart] = []
    if window is not None:
        shade = pd.DataFrame({"start": [window[0] - 0.5], "end": [window[1] + 0.5]})
        layers.append(alt.Chart(shade).mark_rect(color="#e8eef7").encode(x="start:Q", x2="end:Q"))
    base = alt.Chart(points)
    layers.append(base.mark_area(opacity=0.25, color="#4c78a8").encode(x=x, y=alt.Y("lo:Q"), y2="hi:Q"))
    layers.append(
        base.mark_line(point=True, color="#4c78a8").encode(
            x=x,
            y=alt.Y("value:Q", title=quantity, axis=alt.Axis(format=fmt), scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("epoch:Q"),
                alt.Tooltip("value:Q", format=".3f"),
                alt.Tooltip("lo:Q", format=".3f"),
                alt.Tooltip("hi:Q", format=".3f"),
            ],
        )
    )
    if picked_epoch is not None:
        pick = pd.DataFrame({"epoch": [picked_epoch], "label": [f"picked: epoch {picked_epoch}"]})
        layers.append(alt.Chart(pick).mark_rule(color="#e45756", strokeDash=[4, 3], strokeWidth=2).encode(x="epoch:Q"))
        layers.append(
            alt.Chart(pick)
            .mark_text(align="left", dx=4, dy=-6, color="#e45756")
            .encode(x="epoch:Q", y=alt.value(8), text="label:N")
        )
    title = alt.TitleParams(text=quantity, subtitle=judge or "", anchor="start")
    return alt.layer(*layers).properties(title=title, width=420, height=220)  # type: ignore[return-value]  # stubs: LayerChart | FacetChart


def agreement_heatmap(pairs: pd.DataFrame, value: str = "agreement", title: str = "") -> alt.LayerChart:
    """Rater x rater matrix (LIMA section 4.1 style); `pairs` has `rater_1`, `rater_2`, `value` and `n`.
    Both triangles are drawn so each row reads as one rater against everyone else."""
    mirrored = pd.concat([pairs, pairs.rename(columns={"rater_1": "rater_2", "rater_2": "rater_1"})], ignore_index=True)
    raters = sorted(set(mirrored["rater_1"]))
    base = alt.Chart(mirrored).encode(
        x=alt.X("rater_2:N", sort=raters, title=None, axis=alt.Axis(labelAngle=-30, labelLimit=200)),
        y=alt.Y("rater_1:N", sort=raters, title=None, axis=alt.Axis(labelLimit=200)),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="agreement"),
        tooltip=["rater_1:N", "rater_2:N", alt.Tooltip(f"{value}:Q", format=".2f"), "n:Q"],
    )
    labels = base.mark_text(fontSize=12).encode(
        text=alt.Text(f"{value}:Q", format=".2f"),
        color=alt.condition(f"datum['{value}'] > 0.6", alt.value("white"), alt.value("black")),
    )
    return (cells + labels).properties(title=title, width=alt.Step(64), height=alt.Step(40))


def length_bias_curve(binned: pd.DataFrame) -> alt.Chart:
    """Mean preference (2 = the model wins) by length-difference bin, one line per judge: a judge whose
    line climbs to the right prefers the longer answer. `binned` has `judge`, `length_difference`
    (bin centre, model minus baseline, characters), `preference` and `n`."""
    return (
        alt.Chart(binned)
        .mark_line(point=True)
        .encode(
            x=alt.X("length_difference:Q", title="model length − baseline length (characters, bin centre)"),
            y=alt.Y("preference:Q", title="mean preference (2 = model wins)", scale=alt.Scale(domain=[1, 2])),
            color=alt.Color("judge:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=[
                "judge:N",
                alt.Tooltip("length_difference:Q", format=".0f"),
                alt.Tooltip("preference:Q", format=".2f"),
                "n:Q",
            ],
        )
        .properties(width=640, height=260)
    )
