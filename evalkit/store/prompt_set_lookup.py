"""Whether a prompt set is stored under a name: a command uses a stored set as it is, and loads and
saves anything else first."""

from __future__ import annotations

from sqlalchemy import select

from evalkit.store import schema as t
from evalkit.store.store import Store


def has_prompt_set(store: Store, name: str) -> bool:
    s = t.prompt_sets
    with store.engine.connect() as conn:
        return conn.execute(select(s.c.name).where(s.c.name == name)).first() is not None
