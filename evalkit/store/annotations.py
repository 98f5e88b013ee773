"""Human pairwise annotation (LIMA Figure 11) on top of the Store.

A batch pairs a model with a baseline on one prompt set. Each item's "Answer A / Answer B" order is
drawn once, at creation, so every annotator of an item sees the same screen and their labels can be
compared with each other and with the judges. Labels are insert-only: an annotator labels an item at
most once, never edits, and nobody can overwrite someone else's label. Each item takes at most
`per_item` (K) labels, so K annotators see the same items and agreement can be measured; the cap holds
under concurrent labelling (label_writes.py). Each label records its source.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, insert, select

from evalkit.errors import EvalkitError
from evalkit.hashing import sha256_text
from evalkit.records import context_of
from evalkit.store import schema as t
from evalkit.store.generation_sets import choose_decoding
from evalkit.store.label_writes import PAIRWISE, NewLabel, check_annotator, source_column, write_labels
from evalkit.store.store import Store
from evalkit.vocabulary import VERDICTS

LABELS = VERDICTS


@dataclass(frozen=True)
class AnnotationItem:
    """What an annotator sees: blind, no model names."""

    item_id: int
    position: int
    instruction: str
    answer_a: str
    answer_b: str
    context: tuple[dict[str, str], ...] = ()  # earlier turns of a multi-turn prompt, shown before the question


def _answers(store: Store, model_id: int, decoding_hash: str) -> dict[str, int]:
    """prompt_hash -> the generation set's sample-0 answer (one per prompt: a generation set is one
    model under one decoding configuration)."""
    g = t.generations
    query = select(g.c.prompt_hash, g.c.id).where(g.c.model_id == model_id, g.c.sample == 0, g.c.decoding_hash == decoding_hash)
    with store.engine.connect() as conn:
        return {row[0]: int(row[1]) for row in conn.execute(query)}


def create_batch(
    store: Store,
    name: str,
    model_id: int,
    baseline_id: int,
    prompt_set: str,
    per_item: int,
    seed: int | None = None,
    limit: int | None = None,
    model_decoding: str | None = None,
    baseline_decoding: str | None = None,
) -> tuple[int, int]:
    """Make a batch over the prompts of `prompt_set` that both models answered; returns (batch id, items).

    The A/B order per item is a seeded coin flip (seed defaults to one derived from the batch name), so
    re-creating a batch elsewhere gives the same screens."""
    if per_item < 1:
        raise EvalkitError(f"--per-item must be at least 1, got {per_item}")
    if model_id == baseline_id:
        raise EvalkitError("annotate create needs two different models")
    prompts = store.load_prompt_set(prompt_set).prompts
    model_decoding = choose_decoding(store, model_id, f"model {model_id}", model_decoding)
    baseline_decoding = choose_decoding(store, baseline_id, f"baseline {baseline_id}", baseline_decoding, prefer=model_decoding)
    ours, theirs = _answers(store, model_id, model_decoding), _answers(store, baseline_id, baseline_decoding)
    shared = [p.hash for p in prompts if p.hash in ours and p.hash in theirs]
    shared = list(dict.fromkeys(shared))[:limit] if limit else list(dict.fromkeys(shared))
    if not shared:
        raise EvalkitError(f"the two models have no answers in common on prompt set {prompt_set!r}; generate them first")
    rng = random.Random(seed if seed is not None else int(sha256_text(name)[:12], 16))
    with store.engine.begin() as conn:
        if conn.execute(select(t.annotation_batches.c.id).where(t.annotation_batches.c.name == name)).first():
            raise EvalkitError(f"annotation batch {name!r} already exists; pick another --name")
        batch_id = conn.execute(
            insert(t.annotation_batches).values(
                name=name, model_id=model_id, baseline_id=baseline_id, prompt_set=prompt_set, per_item=per_item
            )
        ).inserted_primary_key[0]  # type: ignore[index]  # an insert always has one
        rows = []
        for position, prompt_hash in enumerate(shared):
            rows.append(
                {
                    "batch_id": batch_id,
                    "position": position,
                    "prompt_hash": prompt_hash,
                    "generation_a": ours[prompt_hash],
                    "generation_b": theirs[prompt_hash],
                    "order": "AB" if rng.random() < 0.5 else "BA",
                }
            )
        conn.execute(insert(t.annotation_items), rows)
    return int(batch_id), len(rows)


def batches(store: Store) -> pd.DataFrame:
    """Every batch with its models' names and progress (items, labels, items with all K labels)."""
    b, i, h, m = t.annotation_batches, t.annotation_items, t.human_labels, t.models
    per_item_labels = (
        select(i.c.batch_id, i.c.id, func.count(h.c.id).label("n"))
        .select_from(i.outerjoin(h, h.c.item_id == i.c.id))
        .group_by(i.c.batch_id, i.c.id)
        .subquery()
    )
    progress = (
        select(
            per_item_labels.c.batch_id,
            func.count().label("n_items"),
            func.sum(per_item_labels.c.n).label("n_labels"),
        )
        .group_by(per_item_labels.c.batch_id)
        .subquery()
    )
    mb, bb = m.alias("mb"), m.alias("bb")
    query = (
        select(
            b.c.id,
            b.c.name,
            mb.c.name.label("model"),
            bb.c.name.label("baseline"),
            b.c.prompt_set,
            b.c.per_item,
            b.c.created_at,
            progress.c.n_items,
            progress.c.n_labels,
        )
        .join(mb, mb.c.id == b.c.model_id)
        .join(bb, bb.c.id == b.c.baseline_id)
        .outerjoin(progress, progress.c.batch_id == b.c.id)
        .order_by(b.c.id)
    )
    frame = store.frame(query)
    frame[["n_items", "n_labels"]] = frame[["n_items", "n_labels"]].fillna(0).astype(int)
    return frame


def batch_id(store: Store, name: str) -> int:
    with store.engine.connect() as conn:
        found = conn.execute(select(t.annotation_batches.c.id).where(t.annotation_batches.c.name == name)).scalar()
    if found is None:
        raise EvalkitError(f"annotation batch {name!r} does not exist; make it with `evalkit annotate create`")
    return int(found)


def open_items(items: Any, labels: Any, batches: Any, batch: int, annotator: str):  # type: ignore[no-untyped-def]
    """Items of the batch this annotator has not labelled and that still need labels (fewer than K),
    for any pair of item and label tables (pairwise items and their labels, rating items and ratings)."""
    mine = select(labels.c.item_id).where(labels.c.annotator == annotator)
    counts = select(labels.c.item_id, func.count().label("n")).group_by(labels.c.item_id).subquery()
    return (
        select(items.c.id, items.c.position)
        .join(batches, batches.c.id == items.c.batch_id)
        .outerjoin(counts, counts.c.item_id == items.c.id)
        .where(items.c.batch_id == batch, items.c.id.not_in(mine), func.coalesce(counts.c.n, 0) < batches.c.per_item)
    )


def _open_items(batch: int, annotator: str):  # type: ignore[no-untyped-def]
    return open_items(t.annotation_items, t.human_labels, t.annotation_batches, batch, annotator)


def next_item(store: Store, batch: int, annotator: str) -> AnnotationItem | None:
    """The first open item in batch order: everyone walks the same order, so items fill up to K labels
    (and become comparable) before new ones are started. None when nothing is left for this annotator."""
    open_items = _open_items(batch, annotator).order_by(t.annotation_items.c.position).limit(1).subquery()
    i, p, ours, theirs = t.annotation_items, t.prompts, t.generations.alias("ours"), t.generations.alias("theirs")
    query = (
        select(
            i.c.id,
            i.c.position,
            i.c.order,
            p.c.instruction,
            p.c.messages,
            ours.c.text.label("model_text"),
            theirs.c.text.label("baseline_text"),
        )
        .join(open_items, open_items.c.id == i.c.id)
        .join(p, p.c.hash == i.c.prompt_hash)
        .join(ours, ours.c.id == i.c.generation_a)
        .join(theirs, theirs.c.id == i.c.generation_b)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    first, second = (
        (row["model_text"], row["baseline_text"]) if row["order"] == "AB" else (row["baseline_text"], row["model_text"])
    )
    return AnnotationItem(
        int(row["id"]), int(row["position"]), row["instruction"], first, second, context_of(list(row["messages"]))
    )


def add_label(store: Store, annotator: str, item_id: int, label: str, *, source: str) -> bool:
    """Store one label with where it came from (`source`, e.g. the invitation's "invitation:ID"); False
    (nothing written) when this annotator already labelled the item or it already has its K labels, also
    when others label it at the same moment (label_writes.py). Existing labels are never updated."""
    annotator = check_annotator(annotator)
    if label not in LABELS:
        raise EvalkitError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
    return write_labels(store, PAIRWISE, [NewLabel(annotator, item_id, label, source)]) == 1


def progress(store: Store, batch: int, annotator: str) -> tuple[int, int]:
    """(items this annotator labelled in the batch, items still open to them)."""
    i, h = t.annotation_items, t.human_labels
    done_query = (
        select(func.count())
        .select_from(h.join(i, i.c.id == h.c.item_id))
        .where(and_(i.c.batch_id == batch, h.c.annotator == annotator))
    )
    open_query = select(func.count()).select_from(_open_items(batch, annotator).subquery())
    with store.engine.connect() as conn:
        return int(conn.execute(done_query).scalar_one()), int(conn.execute(open_query).scalar_one())


def labels(store: Store, batch: int | None = None) -> pd.DataFrame:
    """Every human label with its source and item: batch, prompt, the model's (a) and baseline's (b)
    generations and their decodings (`decoding_a`, `decoding_b`: decoding hashes), the shown order and
    the batch's models."""
    h, i, b = t.human_labels, t.annotation_items, t.annotation_batches
    ga, gb = t.generations.alias("ga"), t.generations.alias("gb")
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
            i.c.generation_a,
            i.c.generation_b,
            i.c.order,
            b.c.model_id,
            b.c.baseline_id,
            ga.c.decoding_hash.label("decoding_a"),
            gb.c.decoding_hash.label("decoding_b"),
        )
        .join(i, i.c.id == h.c.item_id)
        .join(b, b.c.id == i.c.batch_id)
        .join(ga, ga.c.id == i.c.generation_a)
        .join(gb, gb.c.id == i.c.generation_b)
        .order_by(h.c.id)
    )
    if batch is not None:
        query = query.where(i.c.batch_id == batch)
    return store.frame(query)
