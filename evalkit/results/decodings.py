"""Decoding configurations as people read them. A generation set is a model plus the decoding hash
of its answers; these helpers turn the stored parameters into a short label for tables and say what
changed when a run asks for answers under another configuration than the stored ones."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, select

from evalkit.store import schema as t

IMPORTED_LABEL = "imported"
SHOWN_ORDER = ("greedy", "temperature", "top_p", "repetition_penalty", "max_new_tokens", "seed", "dtype")


def decoding_label(params: dict[str, Any] | None) -> str:
    """ "greedy, rep 1.2, max 96 tokens, float32" / "T 0.7, top-p 0.9, rep 1.2, max 2048 tokens, seed 0" / "imported"."""
    if not params or params.get("imported"):
        return IMPORTED_LABEL
    limit = f"max {params.get('max_new_tokens')} tokens"
    repetition = f"rep {params.get('repetition_penalty')}"
    precision = f", {params['dtype']}" if params.get("dtype") else ""
    if params.get("greedy"):
        return f"greedy, {repetition}, {limit}{precision}"
    return (
        f"T {params.get('temperature')}, top-p {params.get('top_p')}, {repetition}, {limit}, seed {params.get('seed')}{precision}"
    )


def decodings(store: object) -> pd.DataFrame:
    """Every decoding configuration in the store: decoding (hash), params, label."""
    g = t.generations
    first = select(func.min(g.c.id)).group_by(g.c.decoding_hash).scalar_subquery()
    query = select(g.c.decoding_hash, g.c.decoding).where(g.c.id.in_(first))
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(query).fetchall()
    return pd.DataFrame(
        {
            "decoding": [row[0] for row in rows],
            "params": [dict(row[1] or {}) for row in rows],
            "label": [decoding_label(row[1]) for row in rows],
        },
        columns=["decoding", "params", "label"],
    )


def changed_parameters(stored: dict[str, Any], wanted: dict[str, Any]) -> str:
    """ "max_new_tokens=96" style list of the stored configuration's values that differ from `wanted`."""
    keys = [key for key in SHOWN_ORDER if stored.get(key) != wanted.get(key)]
    return ", ".join(f"{key}={stored.get(key)}" for key in keys) or "the same parameters"
