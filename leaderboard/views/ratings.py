"""Ratings: LIMA's Figure 3 for absolute-rating batches. Per model, the share of answers rated Fail /
Pass / Excellent by the human annotators and by each absolute judge, side by side, with how far the
humans agree with each other and with the judges on the same answers (evalkit/judge_eval/ratings.py)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.judge_eval.ratings import Figure3, figure3
from evalkit.leaderboard import data, filters
from evalkit.leaderboard.rating_chart import rating_bars
from evalkit.leaderboard.store_access import PageTimer, current_url, results_token, store_for
from evalkit.store import ratings

timer = PageTimer()


@st.cache_data(show_spinner=False, max_entries=16)
def _figure(url: str, labels_token: str, results_token: str, batch: int) -> Figure3:
    return figure3(store_for(url), batch)


st.title("Ratings")
st.caption(
    "LIMA Figure 3: each answer rated Fail (does not meet the requirements of the prompt), Pass (meets them) "
    "or Excellent, by the annotators and by the `absolute` judge."
)
store = store_for(current_url())
batches = ratings.rating_batches(store)
if batches.empty:
    st.info(
        "No absolute-rating batches yet. Make one with `evalkit annotate create --mode absolute --models MODEL... "
        "--prompts SET --per-item K`, invite annotators, and judge the same answers with `--judge absolute`."
    )
else:
    names = {int(row.id): f"{row.name} ({row.n_labels} ratings)" for row in batches.itertuples()}
    batch = filters.remembered_select("Rating batch", list(names), "ratings_batch", names.__getitem__, container=st)
    figure = _figure(current_url(), data.labels_token(), results_token(store), int(batch))
    if figure.shares.empty:
        st.info("No ratings in this batch yet.")
    else:
        st.altair_chart(rating_bars(figure.shares), width="content", theme=None)
        st.subheader("Agreement")
        st.dataframe(
            figure.agreement,
            hide_index=True,
            column_config={
                "agreement": st.column_config.NumberColumn("exact agreement", format="%.3f"),
                "cohen_kappa": st.column_config.NumberColumn("Cohen's κ", format="%.3f"),
            },
        )
        st.dataframe(
            pd.DataFrame({"annotator": list(figure.annotators), "agreement with the others": list(figure.annotators.values())}),
            hide_index=True,
            column_config={"agreement with the others": st.column_config.NumberColumn(format="%.3f")},
        )
timer.footer()
