"""The reads of `evalkit report` that no other reader makes: answer texts by generation id."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from evalkit.store import schema as t
from evalkit.store.store import Store

CHUNK = 5_000  # ids per query: far below SQLite's and PostgreSQL's limits on bound parameters


def answer_texts(store: Store, generation_ids: Collection[int]) -> dict[int, str]:
    """The text of each of these generations, by id (ids not in the store are left out)."""
    wanted = sorted({int(i) for i in generation_ids})
    g = t.generations
    texts: dict[int, str] = {}
    for start in range(0, len(wanted), CHUNK):
        frame = store.frame(select(g.c.id, g.c.text).where(g.c.id.in_(wanted[start : start + CHUNK])))
        texts.update({int(row.id): str(row.text or "") for row in frame.itertuples()})
    return texts
