"""How pages reach the store: one Store per URL per server process, and cheap change tokens.

Cached data is keyed by (db url, change token): see `evalkit.store.change_tokens` for the two tokens
(results and labels) and why they are cheap.
"""

from __future__ import annotations

import time

import streamlit as st

from evalkit.core.redaction import redact_url
from evalkit.core.settings import db_url
from evalkit.store import Store
from evalkit.store.change_tokens import labels_token, results_token

__all__ = [
    "PageTimer",
    "current_reader",
    "current_store",
    "current_url",
    "labels_token",
    "reader_for",
    "redacted_url",
    "results_token",
    "store_for",
]


def current_url() -> str:
    """The URL `evalkit leaderboard` passed through EVALKIT_DB (never via argv: it may hold a password)."""
    return db_url(None)


@st.cache_resource(show_spinner=False)
def store_for(url: str) -> Store:
    return Store(url)


def current_store() -> Store:
    return store_for(current_url())


@st.cache_resource(show_spinner=False)
def reader_for(url: str) -> Store:
    return Store(url, read_only=True)


def current_reader() -> Store:
    """The store for code that only reads (the access check on every page): works on a read-only store."""
    return reader_for(current_url())


def redacted_url() -> str:
    return redact_url(current_url())


class PageTimer:
    """Shows how long the page took, so slow queries are visible to users (and to the speed test)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def footer(self) -> None:
        elapsed = time.perf_counter() - self.started
        st.caption(f"Rendered in {elapsed:.2f} s · store {redacted_url()}")
