"""Models, prompts, prompt sets and answers, read as the leaderboard and the judges need them."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pandas as pd
from sqlalchemy import select

from evalkit.store import schema as t
from evalkit.store.store import Store


def model_rows(store: Store) -> pd.DataFrame:
    """Columns id, name, run, epoch, path of every model, by id."""
    m = t.models
    return store.frame(select(m.c.id, m.c.name, m.c.run, m.c.epoch, m.c.path).order_by(m.c.id))


def prompt_set_members(store: Store) -> pd.DataFrame:
    """Columns set_name, prompt_hash: every prompt of every stored prompt set."""
    return store.frame(select(t.prompt_set_items.c.set_name, t.prompt_set_items.c.prompt_hash))


def prompt_texts(store: Store) -> pd.DataFrame:
    """Columns hash, instruction, messages of every stored prompt."""
    return store.frame(select(t.prompts.c.hash, t.prompts.c.instruction, t.prompts.c.messages))


def reference_answers(store: Store, prompt_hashes: Collection[str]) -> dict[str, str]:
    """Reference answers by prompt hash, from any stored prompt set that has one (first set by name)."""
    items = t.prompt_set_items
    query = select(items.c.prompt_hash, items.c.reference).where(items.c.reference.is_not(None)).order_by(items.c.set_name.desc())
    frame = store.frame(query)
    wanted = set(prompt_hashes)
    return {row.prompt_hash: row.reference for row in frame.itertuples() if row.prompt_hash in wanted}


def answers_to_prompt(store: Store, model_ids: Sequence[int], prompt_hash: str) -> pd.DataFrame:
    """Columns id, model_id, sample, decoding_hash, text, completion_tokens of these models' answers
    to one prompt, by id (newest last)."""
    g = t.generations
    query = (
        select(g.c.id, g.c.model_id, g.c.sample, g.c.decoding_hash, g.c.text, g.c.completion_tokens)
        .where(g.c.prompt_hash == prompt_hash, g.c.model_id.in_(model_ids))
        .order_by(g.c.id)
    )
    return store.frame(query)
