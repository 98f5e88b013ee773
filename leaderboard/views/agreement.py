"""Agreement: how far raters agree on the same pairs (LIMA section 4.1's tie-discounted accuracy, Cohen's
kappa, AlpacaEval's each-rater-vs-the-mode), how much each annotator did, and each judge's position
consistency and length bias. Numbers come from evalkit.stats.agreement through the same helpers as
`evalkit agreement`, so the page and the CLI agree to the digit."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.core.records import JUDGE_COLUMNS, JudgeIdentity
from evalkit.core.vocabulary import VERDICTS
from evalkit.leaderboard import charts, data, filters, tables
from evalkit.leaderboard.cache import Served
from evalkit.leaderboard.store_access import PageTimer
from evalkit.results.agreement import store_labels
from evalkit.stats.agreement import agreement_pairs, vs_mode

timer = PageTimer()


@st.cache_data(show_spinner=False, max_entries=16)
def _rater_labels(
    token: str, labels_token: str, batch: int, _served: Served, _humans: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """Long (item, rater, label) rows of the humans and of every judge on the same items. Only the judge
    rows between the labelled answers are read: the rest could never match an item."""
    answers = {int(a) for a in _humans["generation_a"]} | {int(b) for b in _humans["generation_b"]}
    return store_labels(_humans, data.rows_between(_served, tuple(answers)).comparisons)


st.title("Agreement")
served = data.results()
data.freshness_note(served)
snapshot = served.snapshot
names = filters.judge_labels(snapshot)

humans = data.labels()
batches = data.batches()
if humans.empty:
    st.info(
        "No human labels yet. Make a batch with `evalkit annotate create --models MODEL BASELINE --prompts SET "
        "--per-item K` and label it on the Annotate page; agreement with the judges appears here."
    )
else:
    batch_names = {int(row.id): f"{row.name} ({row.n_labels} labels)" for row in batches.itertuples()}
    options = [0, *batch_names]
    batch = filters.remembered_select(
        "Annotation batch", options, "agreement_batch", lambda b: "All batches" if b == 0 else batch_names[b], container=st
    )
    if batch:
        humans = humans[humans["batch_id"] == batch]
    long, human_names = _rater_labels(snapshot.token, data.labels_token(), int(batch or 0), served, humans)
    pairs = pd.DataFrame(agreement_pairs(long))

    st.subheader("Agreement between raters")
    lima = tables.rater_pair_kinds(pairs, set(human_names))
    st.dataframe(
        lima,
        hide_index=True,
        width="stretch",
        column_config={
            "tie_discounted": st.column_config.NumberColumn(
                "tie-discounted accuracy", format="%.3f", help="1 same label, 0.5 when exactly one is a tie, 0 opposite"
            ),
            "agreement": st.column_config.NumberColumn("exact agreement", format="%.3f"),
            "mean_cohen_kappa": st.column_config.NumberColumn("Cohen's κ (mean over pairs)", format="%.3f"),
        },
    )
    if not pairs.empty:
        st.dataframe(
            pairs,
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format="%.3f")
                for c in ("tie_discounted", "agreement", "agreement_without_ties", "cohen_kappa")
            },
        )
        heat = pairs.rename(columns={"rater_a": "rater_1", "rater_b": "rater_2", "tie_discounted": "agreement_td"})
        st.altair_chart(
            charts.agreement_heatmap(heat, value="agreement_td", title="Tie-discounted accuracy"), width="content", theme=None
        )
    mode = vs_mode(long, pool=human_names)
    st.markdown("**Each rater against the mode of the annotators** (AlpacaEval's protocol; annotators leave themselves out)")
    st.dataframe(
        pd.DataFrame({"rater": list(mode), "tie-discounted vs mode": list(mode.values())}),
        hide_index=True,
        column_config={"tie-discounted vs mode": st.column_config.NumberColumn(format="%.3f")},
    )

    st.subheader("Annotators")
    counts = humans.groupby("annotator").agg(
        labels=("id", "size"), batches=("batch_id", "nunique"), first=("created_at", "min"), last=("created_at", "max")
    )
    shares = pd.crosstab(humans["annotator"], humans["label"], normalize="index").reindex(columns=list(VERDICTS), fill_value=0)
    counts = counts.join((shares * 100).add_prefix("% "))
    st.dataframe(
        counts.reset_index(),
        hide_index=True,
        width="stretch",
        column_config={f"% {label}": st.column_config.NumberColumn(format="%.0f") for label in VERDICTS},
    )

st.subheader("Judges: position consistency and length bias")
biases = snapshot.judge_bias
if biases.empty:
    st.caption("Being computed in the background." if served.rows_pending else "No pairwise judgments yet.")
else:
    st.dataframe(
        biases,
        hide_index=True,
        width="stretch",
        column_config={
            "position_consistency": st.column_config.NumberColumn("same verdict in both orders", format="%.3f"),
            "first_position_rate": st.column_config.NumberColumn(
                "picks Answer A",
                format="%.3f",
                help="Share of decisive verdicts for the first shown answer; 0.5 = no position bias",
            ),
            "prefer_longer": st.column_config.NumberColumn(
                "prefers the longer answer", format="%.3f", help="Among pairs whose lengths differ by more than 30 characters"
            ),
        },
    )
    bins = snapshot.length_bins
    judges = [
        names.get(JudgeIdentity(str(k), str(m), str(h)), f"{k} · {m}")
        for k, m, h in zip(*(bins[column] for column in JUDGE_COLUMNS))
    ]
    st.altair_chart(charts.length_bias_curve(bins.assign(judge=judges)), width="stretch")
timer.footer()
