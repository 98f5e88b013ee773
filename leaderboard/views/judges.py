"""Judges: which judge configuration to trust. One row per configuration (kind, model, spec hash) with
its agreement with the humans' mode, its biases, consistency and price; the humans' agreement with
each other on top as the ceiling. Reports come from `evalkit judge-quality --save NAME` or, live, from
the store's annotation batches and the judges stored on the same pairs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.leaderboard import data, filters, judge_charts, judge_quality
from evalkit.leaderboard.store_access import PageTimer

timer = PageTimer()
st.title("Judges")
LIVE = "live"
FRACTION = "%.3f"  # number format of agreement fractions
COLUMNS = {
    "name": st.column_config.TextColumn("rater", help="humans: each human against the mode of the others (the ceiling)"),
    "judge_kind": st.column_config.TextColumn("kind"),
    "judge_model": st.column_config.TextColumn("model"),
    "spec_hash": st.column_config.TextColumn("spec hash", help="hash of the judge's template, parse rule and sampling"),
    "n": st.column_config.NumberColumn("items"),
    "human_agreement_tie_discounted": st.column_config.NumberColumn(
        "tie-discounted", help="LIMA's accuracy against the humans' mode: 1 same, 0.5 one is a tie, 0 opposite", format=FRACTION
    ),
    "human_agreement_tie_discounted_ci_low": st.column_config.NumberColumn("95% low", format=FRACTION),
    "human_agreement_tie_discounted_ci_high": st.column_config.NumberColumn("95% high", format=FRACTION),
    "human_agreement": st.column_config.NumberColumn("exact", help="same label as the humans' mode", format=FRACTION),
    "human_agreement_without_ties": st.column_config.NumberColumn(
        "without ties", help="on pairs neither the judge nor the humans' mode called a tie (MT-Bench)", format=FRACTION
    ),
    "cohen_kappa": st.column_config.NumberColumn("Cohen's κ", help="against the humans' majority label", format=FRACTION),
    "prefer_first": st.column_config.NumberColumn(
        "P(first)", help="decisive verdicts for the first shown answer; 0.5 = no position bias", format=FRACTION
    ),
    "prefer_longer": st.column_config.NumberColumn(
        "P(longer)", help="decisive verdicts for the longer answer, lengths differing by > 30 characters", format=FRACTION
    ),
    "position_consistency": st.column_config.NumberColumn("same verdict both orders", format=FRACTION),
    "self_consistency": st.column_config.NumberColumn(
        "self-consistency", help="K samples: each against the mode of the others", format=FRACTION
    ),
    "invalid": st.column_config.NumberColumn("invalid", help="pairs asked without a verdict"),
    "invalid_reasons": st.column_config.TextColumn("invalid by reason", help="why: unparseable reply, prompt too long, ..."),
    "cost_per_1000": st.column_config.NumberColumn("USD / 1k", format="%.2f"),
    "seconds_per_1000": st.column_config.NumberColumn("s / 1k", format="%.0f"),
}
SORTS = {
    "tie-discounted agreement": "human_agreement_tie_discounted",
    "Cohen's κ": "cohen_kappa",
    "exact agreement": "human_agreement",
    "price": "cost_per_1000",
}

saved = judge_quality.saved()
names = {name: f"{name} (saved {created:%Y-%m-%d %H:%M})" for name, created in zip(saved["name"], saved["created_at"])}
batches = data.batches()
options = [*names, LIVE] if not batches.empty else list(names)
if not options:
    st.info(
        "No human labels to hold the judges against yet. Either label pairs on the Annotate page and judge the same "
        "pairs with `evalkit judge`, or score judges on a human-labelled file and keep the result here: "
        "`evalkit judge-quality --humans FILE --judge pairwise@gpt-4o --judge-labels OTHER.jsonl --save NAME`."
    )
else:
    source = filters.remembered_select(
        "Report",
        options,
        "judges_source",
        container=st,
        format_func=lambda o: "Annotation batches in this store (live)" if o == LIVE else names[o],
    )
    if source == LIVE:
        batch_names = [None, *batches["name"]]
        batch = st.selectbox("Annotation batch", batch_names, format_func=lambda b: "All batches" if b is None else b)
        report = judge_quality.live(batch)
    else:
        report = saved.set_index("name").loc[source, "report"]
    if report is None:
        st.info("No judge has verdicts on the labelled pairs yet: run `evalkit judge` on the batch's models.")
    else:
        st.caption(
            f"{report['items']} human-labelled pairs from {report['source']}; intervals: "
            f"{report['level']:.0%} bootstrap over items ({report['resamples']} resamples)."
        )
        rows = judge_quality.report_rows(report)
        sort_label = st.selectbox("Sort judges by", list(SORTS), key="judges_sort")
        field = SORTS[sort_label]
        judges = rows.iloc[1:].sort_values(field, ascending=field == "cost_per_1000", na_position="last")
        table = pd.concat([rows.iloc[:1], judges], ignore_index=True)  # the humans stay on top
        shown = [c for c in COLUMNS if table[c].notna().any()]
        st.dataframe(table[shown], hide_index=True, width="stretch", column_config={c: COLUMNS[c] for c in shown})
        left, right = st.columns(2)
        with left:
            st.subheader("Agreement with the humans")
            st.altair_chart(judge_charts.agreement_chart(rows), width="stretch")
            st.caption("Dashed line: the humans' agreement with each other, the most a judge can be expected to reach.")
        with right:
            st.subheader("Biases")
            st.altair_chart(judge_charts.bias_chart(rows), width="stretch")
            st.caption("Dashed line at 50%: no preference for the first shown or the longer answer.")
timer.footer()
