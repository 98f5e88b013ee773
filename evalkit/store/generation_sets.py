"""Generation sets: a model's answers under one decoding configuration. A result is always about one
set, so whoever judges, annotates or compares a stored model first says (or is told) which."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import func, select

from evalkit.core.errors import EvalkitError
from evalkit.store import schema as t
from evalkit.store.store import Store


class StoredDecoding(NamedTuple):
    decoding_hash: str
    params: dict[str, Any] | None  # as stored with the answers (None: stored without parameters)


def stored_decodings(store: Store) -> list[StoredDecoding]:
    """Every decoding configuration in the store, with the parameters stored on its first answer."""
    g = t.generations
    first = select(func.min(g.c.id)).group_by(g.c.decoding_hash).scalar_subquery()
    query = select(g.c.decoding_hash, g.c.decoding).where(g.c.id.in_(first))
    with store.engine.connect() as conn:
        return [StoredDecoding(row[0], row[1]) for row in conn.execute(query).fetchall()]


def generation_sets(store: Store, model_id: int) -> dict[str, int]:
    """decoding hash -> number of answers the model has under it."""
    frame = store.generations(model_id=model_id)
    return {str(k): int(v) for k, v in frame.groupby("decoding_hash").size().items()}


def choose_decoding(store: Store, model_id: int, name: str, wanted: str | None = None, prefer: str | None = None) -> str:
    """The decoding hash of the model's generation set to judge: `wanted` (a hash or a prefix of one);
    else its only one; else `prefer` when the model has it. Several sets and no choice is an error:
    judging them together would mix two configurations in one number."""
    sets = generation_sets(store, model_id)
    if not sets:
        raise EvalkitError(f"model {name!r} has no stored answers; run `evalkit generate` for it first")
    if wanted:
        matches = [h for h in sets if h.startswith(wanted)]
        if len(matches) != 1:
            raise EvalkitError(
                f"model {name!r} has {'no' if not matches else 'several'} generation sets with decoding "
                f"{wanted!r}; stored: {', '.join(h[:12] for h in sets)}"
            )
        return matches[0]
    if len(sets) == 1:
        return next(iter(sets))
    if prefer in sets:
        return str(prefer)
    raise EvalkitError(
        f"model {name!r} has answers under {len(sets)} decoding configurations "
        f"({', '.join(h[:12] for h in sets)}); choose one with --decoding HASH"
    )
