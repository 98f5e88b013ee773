"""What the Judges page shows: judge-quality reports as rows, from two places.

- reports saved with `evalkit judge-quality ... --save NAME` (any human set: AlpacaEval, PandaLM,
  MT-Bench files, judges run or read from files), shown as they were computed;
- the store's own annotation batches, computed on view from the humans' labels and every pairwise
  judge stored on the same pairs (the same function as `evalkit judge-quality --db`).

Both give the same report dict; `report_rows` turns one into a table with the humans' row first."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from evalkit.core.errors import EvalkitError
from evalkit.core.vocabulary import format_reasons
from evalkit.judge_eval.report import build_report
from evalkit.judge_eval.saved import saved_reports
from evalkit.judge_eval.store_source import store_judge_quality
from evalkit.leaderboard.store_access import (
    current_url,
    labels_token,
    results_token,
    store_for,
)
from evalkit.store.judge_quality_reports import newest_report_id

LIVE_RESAMPLES = 2_000  # enough for two-digit intervals, fast enough to compute on a page view
ROW_COLUMNS = [
    "name",
    "judge_kind",
    "judge_model",
    "spec_hash",
    "n",
    "human_agreement_tie_discounted",
    "human_agreement_tie_discounted_ci_low",
    "human_agreement_tie_discounted_ci_high",
    "human_agreement",
    "human_agreement_without_ties",
    "cohen_kappa",
    "prefer_first",
    "prefer_longer",
    "position_consistency",
    "self_consistency",
    "invalid",
    "invalid_reasons",
    "cost_per_1000",
    "seconds_per_1000",
    "source",
]


def _reports_token(url: str) -> int:
    return newest_report_id(store_for(url))


@st.cache_data(show_spinner=False, max_entries=8)
def _saved(url: str, token: int) -> pd.DataFrame:
    return saved_reports(store_for(url))


def saved() -> pd.DataFrame:
    """The newest saved report of each name (columns name, report, created_at)."""
    url = current_url()
    return _saved(url, _reports_token(url))


@st.cache_data(show_spinner=False, max_entries=16)
def _live(url: str, results: str, labels: str, batch: str | None) -> dict[str, Any] | None:
    try:
        humans, judges = store_judge_quality(store_for(url), batch)
    except EvalkitError:
        return None  # no human labels: the page says how to get some
    if not judges:
        return None
    return build_report(humans.labels, humans.pairs, judges, source=humans.path, n_resamples=LIVE_RESAMPLES)


def live(batch: str | None) -> dict[str, Any] | None:
    """The report of the store's annotation batches (one batch, or all when None); None without
    human labels or without any judge on the labelled pairs."""
    url = current_url()
    store = store_for(url)
    return _live(url, results_token(store), labels_token(store), batch)


def report_rows(report: dict[str, Any]) -> pd.DataFrame:
    """One row per judge configuration, the humans (the ceiling) first."""
    rows = pd.DataFrame([report["humans"], *report["judges"]]).reindex(columns=ROW_COLUMNS)
    rows["invalid_reasons"] = [format_reasons(reasons) or None for reasons in rows["invalid_reasons"]]
    return rows
