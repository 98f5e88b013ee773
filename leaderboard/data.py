"""What pages read. Results come from the snapshot cache (cache.py); small, often-changing data (human
labels, batches, decisions) and per-prompt texts come from short cached queries keyed by their own
change token. Every function returns frames the caller must treat as read-only."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from evalkit.core.vocabulary import MODEL_VIEW
from evalkit.leaderboard.cache import Served, shared_cache
from evalkit.leaderboard.judged_rows import judged_tables, pair_tables
from evalkit.leaderboard.store_access import current_url, results_token, store_for
from evalkit.leaderboard.store_access import labels_token as _labels_token
from evalkit.results.tables import Tables
from evalkit.store import annotations as annotation_store
from evalkit.store.catalog_reads import answers_to_prompt
from evalkit.store.judgment_reads import judgments_on_prompt


def results() -> Served:
    """The current snapshot. `evalkit leaderboard` has it ready before the first view; an app started
    some other way reads the store on its first view."""
    url = current_url()
    with st.spinner("Reading the results store (first view of this store; later views are instant)…"):
        return shared_cache(url).serve(results_token(store_for(url)))


def freshness_note(served: Served) -> None:
    """Tell the user when numbers lag the store, so a stale number is never mistaken for a final one."""
    built = dt.datetime.fromtimestamp(served.snapshot.built_at).strftime("%H:%M:%S")
    if served.error:
        st.error(f"Reading the store failed ({served.error}); showing results as of {built}.")
    elif served.stale:
        st.info(
            f"New results are being read in the background; showing results as of {built}. Rerun to update.",
            icon=":material/sync:",
        )
    if served.rows_pending:
        st.caption(
            "Length-controlled win rates and the judges' position and length bias are being computed in the "
            "background; rerun in a few seconds."
        )


def labels_token() -> str:
    """The current labels token (human labels, batches, decisions), to key caches on."""
    return _labels_token(store_for(current_url()))


@st.cache_data(show_spinner=False, max_entries=8)
def _labels(url: str, token: str) -> pd.DataFrame:
    """Human labels with the model's view of each: "win"/"tie"/"loss" for the batch's model."""
    frame = annotation_store.labels(store_for(url))
    frame["outcome"] = [MODEL_VIEW.get((order, label)) for order, label in zip(frame["order"], frame["label"])]
    return frame


def labels() -> pd.DataFrame:
    return _labels(current_url(), labels_token())


@st.cache_data(show_spinner=False, max_entries=8)
def _batches(url: str, token: str) -> pd.DataFrame:
    return annotation_store.batches(store_for(url))


def batches() -> pd.DataFrame:
    return _batches(current_url(), labels_token())


@st.cache_data(show_spinner=False, max_entries=8)
def _decisions(url: str, token: str) -> pd.DataFrame:
    return store_for(url).decisions()


def decisions() -> pd.DataFrame:
    return _decisions(current_url(), labels_token())


@st.cache_data(show_spinner=False, max_entries=64)
def _generation_texts(url: str, model_ids: tuple[int, ...], prompt_hash: str) -> pd.DataFrame:
    return answers_to_prompt(store_for(url), model_ids, prompt_hash)


def generation_texts(model_ids: tuple[int, ...], prompt_hash: str) -> pd.DataFrame:
    """The models' answers to one prompt (newest last), for the Compare page's detail view."""
    return _generation_texts(current_url(), model_ids, prompt_hash)


@st.cache_data(show_spinner=False, max_entries=64)
def _judgments_for(url: str, token: str, model_ids: tuple[int, int], prompt_hash: str) -> pd.DataFrame:
    return judgments_on_prompt(store_for(url), model_ids, prompt_hash)


def judgments_for(model_ids: tuple[int, int], prompt_hash: str) -> pd.DataFrame:
    """Every stored judgment of either model on one prompt, with its raw completion (the rationale)."""
    url = current_url()
    return _judgments_for(url, results_token(store_for(url)), model_ids, prompt_hash)


@st.cache_data(show_spinner=False, max_entries=16)
def _pair_rows(url: str, token: str, model_ids: tuple[int, ...]) -> Tables:
    return pair_tables(store_for(url), model_ids)


def pair_rows(served: Served, model_ids: tuple[int, ...]) -> Tables:
    """The judge tables' rows between these models (the Compare page's two), read by the database; cached
    per snapshot (its token, not a fresh one: another count of every judgment use per rerun is saved)."""
    return _pair_rows(current_url(), served.snapshot.token, tuple(sorted(model_ids)))


@st.cache_data(show_spinner=False, max_entries=16)
def _rows_between(url: str, token: str, generation_ids: tuple[int, ...]) -> Tables:
    return judged_tables(store_for(url), generation_ids)


def rows_between(served: Served, generation_ids: tuple[int, ...]) -> Tables:
    """The judge tables' rows between these answers (the Agreement page's human-labelled ones), cached
    per snapshot as pair_rows is."""
    return _rows_between(current_url(), served.snapshot.token, tuple(sorted(generation_ids)))
