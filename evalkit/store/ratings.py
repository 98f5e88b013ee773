"""LIMA's absolute rating (Figure 3): annotators rate one answer at a time as Fail, Pass or Excellent.

A batch holds the answers of one or more models on one prompt set, shuffled once at creation (seeded
by the batch name) so that an annotator does not see one model's answers in a row and every annotator
walks the same order; the screen never names the model. Labels are insert-only and each item takes
at most `per_item` (K) labels, as in the pairwise batches (annotations.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, insert, select

from evalkit.errors import EvalkitError
from evalkit.hashing import sha256_text
from evalkit.records import context_of
from evalkit.store import schema as t
from evalkit.store.annotations import open_items
from evalkit.store.generation_sets import choose_decoding
from evalkit.store.label_writes import ABSOLUTE, NewLabel, check_annotator, source_column, write_labels
from evalkit.store.store import Store

# LIMA section 4 (Figure 3), in the order the bar stacks them.
RATINGS: dict[str, str] = {
    "fail": "Fail: the response does not meet the requirements of the prompt.",
    "pass": "Pass: the response meets the requirements of the prompt.",
    "excellent": "Excellent: the model provides an excellent response to the prompt.",
}


@dataclass(frozen=True)
class RatingItem:
    """What an annotator sees: the question and one answer, no model name."""

    item_id: int
    position: int
    instruction: str
    answer: str
    context: tuple[dict[str, str], ...] = ()  # earlier turns of a multi-turn prompt, shown before the question


def name_taken(conn, name: str) -> bool:  # type: ignore[no-untyped-def]
    """Invitations name batches, so a name is unique across pairwise and absolute batches."""
    return any(
        conn.execute(select(table.c.id).where(table.c.name == name)).first() for table in (t.annotation_batches, t.rating_batches)
    )


def _answers(store: Store, model_ids: list[int], decoding: str | None) -> dict[tuple[int, str], int]:
    """(model, prompt hash) -> the sample-0 answer of the model's generation set (one decoding
    configuration per model: its only one, or `decoding`; never a mix of two)."""
    g = t.generations
    answers: dict[tuple[int, str], int] = {}
    for model_id in model_ids:
        chosen = choose_decoding(store, model_id, f"model {model_id}", decoding)
        query = select(g.c.prompt_hash, g.c.id).where(g.c.model_id == model_id, g.c.sample == 0, g.c.decoding_hash == chosen)
        with store.engine.connect() as conn:
            answers.update({(model_id, p): int(i) for p, i in conn.execute(query)})
    return answers


def create_rating_batch(
    store: Store,
    name: str,
    model_ids: list[int],
    prompt_set: str,
    per_item: int,
    seed: int | None = None,
    limit: int | None = None,
    decoding: str | None = None,
) -> tuple[int, int]:
    """A batch rating every listed model's answer to the first `limit` prompts of the set that all of
    them answered; returns (batch id, items)."""
    if per_item < 1:
        raise EvalkitError(f"--per-item must be at least 1, got {per_item}")
    if len(set(model_ids)) != len(model_ids):
        raise EvalkitError("annotate create --mode absolute lists a model twice; name each model once")
    prompts = list(dict.fromkeys(p.hash for p in store.load_prompt_set(prompt_set).prompts))
    answers = _answers(store, model_ids, decoding)
    with store.engine.begin() as conn:
        if name_taken(conn, name):
            raise EvalkitError(f"annotation batch {name!r} already exists; pick another --name")
        shared = [p for p in prompts if all((m, p) in answers for m in model_ids)][:limit]
        if not shared:
            raise EvalkitError(f"the models have no answers in common on prompt set {prompt_set!r}; generate them first")
        pairs = [(m, p) for p in shared for m in model_ids]
        random.Random(seed if seed is not None else int(sha256_text(name)[:12], 16)).shuffle(pairs)
        batch = conn.execute(
            insert(t.rating_batches).values(name=name, prompt_set=prompt_set, per_item=per_item)
        ).inserted_primary_key[0]  # type: ignore[index]  # an insert always has one
        conn.execute(
            insert(t.rating_items),
            [
                {"batch_id": batch, "position": position, "prompt_hash": p, "model_id": m, "generation_id": answers[(m, p)]}
                for position, (m, p) in enumerate(pairs)
            ],
        )
    return int(batch), len(pairs)


def _open_items(batch: int, annotator: str):  # type: ignore[no-untyped-def]
    return open_items(t.rating_items, t.rating_labels, t.rating_batches, batch, annotator)


def next_rating_item(store: Store, batch: int, annotator: str) -> RatingItem | None:
    """The first item in batch order this annotator has not rated and that still needs ratings."""
    first = _open_items(batch, annotator).order_by(t.rating_items.c.position).limit(1).subquery()
    i, p, g = t.rating_items, t.prompts, t.generations
    query = (
        select(i.c.id, i.c.position, p.c.instruction, g.c.text, p.c.messages)
        .join(first, first.c.id == i.c.id)
        .join(p, p.c.hash == i.c.prompt_hash)
        .join(g, g.c.id == i.c.generation_id)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else RatingItem(int(row[0]), int(row[1]), row[2], row[3], context_of(list(row[4])))


def add_rating(store: Store, annotator: str, item_id: int, label: str, batch: int | None = None, *, source: str) -> bool:
    """Store one rating with its source; False (nothing written) when this annotator already rated the
    item or it has its K ratings. With `batch`, an item of another batch is refused (an invitation
    covers one batch)."""
    annotator = check_annotator(annotator)
    if label not in RATINGS:
        raise EvalkitError(f"rating must be one of {', '.join(RATINGS)}, got {label!r}")
    return write_labels(store, ABSOLUTE, [NewLabel(annotator, item_id, label, source)], batch=batch) == 1


def rating_progress(store: Store, batch: int, annotator: str) -> tuple[int, int]:
    """(items this annotator rated in the batch, items still open to them)."""
    i, h = t.rating_items, t.rating_labels
    done = (
        select(func.count())
        .select_from(h.join(i, i.c.id == h.c.item_id))
        .where(i.c.batch_id == batch, h.c.annotator == annotator)
    )
    remaining = select(func.count()).select_from(_open_items(batch, annotator).subquery())
    with store.engine.connect() as conn:
        return int(conn.execute(done).scalar_one()), int(conn.execute(remaining).scalar_one())


def rating_batches(store: Store) -> pd.DataFrame:
    """Every absolute batch with its progress: items and labels."""
    b, i, h = t.rating_batches, t.rating_items, t.rating_labels
    items = select(i.c.batch_id, func.count().label("n_items")).group_by(i.c.batch_id).subquery()
    labels = (
        select(i.c.batch_id, func.count(h.c.id).label("n_labels"))
        .select_from(h.join(i, i.c.id == h.c.item_id))
        .group_by(i.c.batch_id)
        .subquery()
    )
    query = (
        select(b.c.id, b.c.name, b.c.prompt_set, b.c.per_item, b.c.created_at, items.c.n_items, labels.c.n_labels)
        .outerjoin(items, items.c.batch_id == b.c.id)
        .outerjoin(labels, labels.c.batch_id == b.c.id)
        .order_by(b.c.id)
    )
    frame = store.frame(query)
    frame[["n_items", "n_labels"]] = frame[["n_items", "n_labels"]].fillna(0).astype(int)
    return frame


def ratings(store: Store, batch: int | None = None) -> pd.DataFrame:
    """Every human rating with its source and item: batch, prompt, model, generation."""
    h, i, m = t.rating_labels, t.rating_items, t.models
    query = (
        select(
            h.c.id,
            h.c.annotator,
            h.c.item_id,
            h.c.label,
            h.c.created_at,
            source_column(store, h),
            i.c.batch_id,
            i.c.prompt_hash,
            i.c.model_id,
            m.c.name.label("model"),
            i.c.generation_id,
        )
        .join(i, i.c.id == h.c.item_id)
        .join(m, m.c.id == i.c.model_id)
        .order_by(h.c.id)
    )
    if batch is not None:
        query = query.where(i.c.batch_id == batch)
    return store.frame(query)
