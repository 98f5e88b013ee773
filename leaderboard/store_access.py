"""How pages reach the store: one Store per URL per server process, and cheap change tokens.

Cached data is keyed by (db url, change token). A token is a handful of max(id)/count aggregates, so
computing it on every rerun costs a few index lookups, and rows written by a running job show up on
the next rerun without anyone clearing a cache. There are two: results (generations, judgments,
models, prompt sets: expensive to reload) and labels (human labels, batches, decisions: small, and
they change on every click on the Annotate page, which must not reload the results).
"""

from __future__ import annotations

import time

import streamlit as st
from sqlalchemy import Table, func, select

from evalkit.hashing import content_hash
from evalkit.redaction import redact_url
from evalkit.settings import db_url
from evalkit.store import Store
from evalkit.store import schema as t

RESULT_TABLES: tuple[Table, ...] = (t.generations, t.judgments)
LABEL_TABLES: tuple[Table, ...] = (
    t.human_labels,
    t.annotation_items,
    t.annotation_batches,
    t.decisions,
    t.rating_labels,
    t.rating_items,
    t.rating_batches,
)


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


def _id_aggregates(conn, tables: tuple[Table, ...], count: bool = True) -> list[list[object]]:  # type: ignore[no-untyped-def]
    columns = [func.max(table.c.id) for table in tables] + ([func.count(table.c.id) for table in tables] if count else [])
    return [list(conn.execute(select(column)).one()) for column in columns]


def results_token(store: Store) -> str:
    """Changes when generations, judgments (or their uses), models or prompt sets change. Generations
    and judgments are insert-only, so their max id suffices (an index lookup, where a count scans
    ~500k rows); uses have no integer id, so they are counted."""
    with store.engine.connect() as conn:
        parts: list[object] = list(_id_aggregates(conn, RESULT_TABLES, count=False))
        parts.append(conn.execute(select(func.count()).select_from(t.judgment_uses)).scalar_one())
        parts.append(
            [
                list(r)
                for r in conn.execute(select(t.prompt_sets.c.name, t.prompt_sets.c.content_hash).order_by(t.prompt_sets.c.name))
            ]
        )
        parts.append(
            [
                list(r)
                for r in conn.execute(
                    select(t.models.c.id, t.models.c.name, t.models.c.epoch, t.models.c.run).order_by(t.models.c.id)
                )
            ]
        )
    return content_hash(parts)


def labels_token(store: Store) -> str:
    """Changes when a human label, an annotation batch or a checkpoint decision is written."""
    with store.engine.connect() as conn:
        return content_hash(_id_aggregates(conn, LABEL_TABLES))


def redacted_url() -> str:
    return redact_url(current_url())


class PageTimer:
    """Shows how long the page took, so slow queries are visible to users (and to the speed test)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def footer(self) -> None:
        elapsed = time.perf_counter() - self.started
        st.caption(f"Rendered in {elapsed:.2f} s · store {redacted_url()}")
