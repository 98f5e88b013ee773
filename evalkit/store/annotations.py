"""Human pairwise annotation (LIMA Figure 11) on top of the Store.

A batch pairs a model with a baseline on one prompt set. Each item's "Answer A / Answer B" order is
drawn once, at creation, so every annotator of an item sees the same screen and their labels can be
compared with each other and with the judges. Labels are insert-only: an annotator labels an item at
most once, never edits, and nobody can overwrite someone else's label. Each item takes at most
`per_item` (K) labels, so K annotators see the same items and agreement can be measured; the cap holds
under concurrent labelling (label_writes.py). Each label records its source. The pairwise kind's face
over label_batches.py, which absolute ratings (ratings.py) share.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import sha256_text
from evalkit.core.records import context_of
from evalkit.core.vocabulary import VERDICTS
from evalkit.store import label_batches as shared_batches
from evalkit.store import schema as t
from evalkit.store.generation_sets import choose_decoding
from evalkit.store.label_writes import PAIRWISE
from evalkit.store.store import Store

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


@dataclass(frozen=True)
class SharedPrompts:
    """The prompts of a set that both generation sets answered, in the set's order, and the decodings
    (hashes) those generation sets were chosen under."""

    hashes: tuple[str, ...]
    model_decoding: str
    baseline_decoding: str


def shared_prompts(
    store: Store,
    model_id: int,
    baseline_id: int,
    prompt_set: str,
    model_decoding: str | None = None,
    baseline_decoding: str | None = None,
) -> SharedPrompts:
    """What a pairwise batch of these two models on `prompt_set` can show (see `create_batch`)."""
    prompts = store.load_prompt_set(prompt_set).prompts
    model_decoding = choose_decoding(store, model_id, f"model {model_id}", model_decoding)
    baseline_decoding = choose_decoding(store, baseline_id, f"baseline {baseline_id}", baseline_decoding, prefer=model_decoding)
    ours, theirs = _answers(store, model_id, model_decoding), _answers(store, baseline_id, baseline_decoding)
    shared = dict.fromkeys(p.hash for p in prompts if p.hash in ours and p.hash in theirs)
    return SharedPrompts(tuple(shared), model_decoding, baseline_decoding)


@dataclass(frozen=True)
class DrawnPrompt:
    """A prompt chosen for a batch: how often it was drawn and its per-draw probability under an
    unequal-probability design (evalkit.stats.active_inference); probability None: not drawn that way
    (a simple random sample), and nothing is stored for it."""

    prompt_hash: str
    draws: int
    probability: float | None


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
    drawn: Sequence[DrawnPrompt] | None = None,
) -> tuple[int, int]:
    """Make a batch over the prompts of `prompt_set` that both models answered; returns (batch id, items).

    `drawn`: exactly these prompts (in this order), with their draw weights stored; otherwise the first
    `limit` shared prompts (all without a limit). The A/B order per item is a seeded coin flip (seed
    defaults to one derived from the batch name), so re-creating a batch elsewhere gives the same screens."""
    if per_item < 1:
        raise EvalkitError(f"--per-item must be at least 1, got {per_item}")
    if model_id == baseline_id:
        raise EvalkitError("annotate create needs two different models")
    model_decoding = choose_decoding(store, model_id, f"model {model_id}", model_decoding)
    baseline_decoding = choose_decoding(store, baseline_id, f"baseline {baseline_id}", baseline_decoding, prefer=model_decoding)
    ours, theirs = _answers(store, model_id, model_decoding), _answers(store, baseline_id, baseline_decoding)
    if drawn is None:
        prompts = store.load_prompt_set(prompt_set).prompts
        shared = list(dict.fromkeys(p.hash for p in prompts if p.hash in ours and p.hash in theirs))
        shared = shared[:limit] if limit else shared
        weights: dict[str, dict[str, float | int]] = {}
    else:
        missing = [d.prompt_hash for d in drawn if d.prompt_hash not in ours or d.prompt_hash not in theirs]
        if missing:
            raise EvalkitError(f"{len(missing)} drawn prompts lack an answer from one of the two models (first {missing[0]})")
        shared = [d.prompt_hash for d in drawn]
        weights = {
            d.prompt_hash: {"draw_probability": d.probability, "draws": d.draws} for d in drawn if d.probability is not None
        }
    if not shared:
        raise EvalkitError(f"the two models have no answers in common on prompt set {prompt_set!r}; generate them first")
    rng = random.Random(seed if seed is not None else int(sha256_text(name)[:12], 16))
    items = [
        {
            "position": position,
            "prompt_hash": prompt_hash,
            "generation_a": ours[prompt_hash],
            "generation_b": theirs[prompt_hash],
            "order": "AB" if rng.random() < 0.5 else "BA",
            **weights.get(prompt_hash, {}),
        }
        for position, prompt_hash in enumerate(shared)
    ]
    return shared_batches.create(store, PAIRWISE, name, prompt_set, per_item, items, model_id=model_id, baseline_id=baseline_id)


@dataclass(frozen=True)
class ItemDraw:
    """An item of a batch with its draw weights: `probability` None when the item was not drawn by an
    unequal-probability design (the batch is then a plain sample); `draws` 1 unless drawn repeatedly."""

    item_id: int
    prompt_hash: str
    probability: float | None
    draws: int


def batch_draws(store: Store, batch: int) -> list[ItemDraw]:
    """Every item of the batch in batch order with its draw probability and draws, for the estimator
    (evalkit.stats.active_inference.active_mean). A store older than version 4 read as it is has none."""
    i = shared_batches.tables_of(store).items
    weighted = store.schema_version >= 4
    columns = [i.c.id, i.c.prompt_hash, *([i.c.draw_probability, i.c.draws] if weighted else [])]
    with store.engine.connect() as conn:
        rows = conn.execute(select(*columns).where(i.c.batch_id == batch).order_by(i.c.position)).all()
    return [
        ItemDraw(
            int(row[0]),
            str(row[1]),
            float(row[2]) if weighted and row[2] is not None else None,
            int(row[3]) if weighted and row[3] is not None else 1,
        )
        for row in rows
    ]


def batches(store: Store) -> pd.DataFrame:
    """Every batch with its models' names and progress (items, labels, items with all K labels)."""
    tables = shared_batches.tables_of(store)
    b = tables.batches
    mb, bb = t.models.alias("mb"), t.models.alias("bb")
    query = (
        shared_batches.batches_query(tables, PAIRWISE)
        .add_columns(mb.c.name.label("model"), bb.c.name.label("baseline"))
        .join(mb, mb.c.id == b.c.model_id)
        .join(bb, bb.c.id == b.c.baseline_id)
    )
    columns = ["id", "name", "model", "baseline", "prompt_set", "per_item", "created_at", "n_items", "n_labels"]
    return shared_batches.batches_frame(store, query)[columns]


def batch_id(store: Store, name: str) -> int:
    return shared_batches.batch_id(store, PAIRWISE, name)


def next_item(store: Store, batch: int, annotator: str) -> AnnotationItem | None:
    """The first open item in batch order: everyone walks the same order, so items fill up to K labels
    (and become comparable) before new ones are started. None when nothing is left for this annotator."""
    row = shared_batches.next_open_item(store, batch, annotator)
    if row is None:
        return None
    model_text, baseline_text = row["text_a"], row["text_b"]
    first, second = (model_text, baseline_text) if row["order"] == "AB" else (baseline_text, model_text)
    return AnnotationItem(
        int(row["id"]), int(row["position"]), row["instruction"], first, second, context_of(list(row["messages"]))
    )


def add_label(store: Store, annotator: str, item_id: int, label: str, *, source: str) -> bool:
    """Store one label with where it came from (`source`, e.g. the invitation's "invitation:ID"); False
    (nothing written) when this annotator already labelled the item or it already has its K labels, also
    when others label it at the same moment (label_writes.py). Existing labels are never updated."""
    return shared_batches.add(store, PAIRWISE, annotator, item_id, label, source=source)


def progress(store: Store, batch: int, annotator: str) -> tuple[int, int]:
    """(items this annotator labelled in the batch, items still open to them)."""
    return shared_batches.progress(store, batch, annotator)


def labels(store: Store, batch: int | None = None) -> pd.DataFrame:
    """Every human label with its source and item: batch, prompt, the model's (a) and baseline's (b)
    generations and their decodings (`decoding_a`, `decoding_b`: decoding hashes), the shown order and
    the batch's models."""
    tables = shared_batches.tables_of(store)
    i, b = tables.items, tables.batches
    ga, gb = t.generations.alias("ga"), t.generations.alias("gb")
    query = (
        shared_batches.labels_query(tables, PAIRWISE, batch)
        .add_columns(
            i.c.generation_a,
            i.c.generation_b,
            i.c.order,
            b.c.model_id,
            b.c.baseline_id,
            ga.c.decoding_hash.label("decoding_a"),
            gb.c.decoding_hash.label("decoding_b"),
        )
        .join(ga, ga.c.id == i.c.generation_a)
        .join(gb, gb.c.id == i.c.generation_b)
    )
    return store.frame(query)


def batch_population(store: Store, batch: int) -> SharedPrompts:
    """The prompts a pairwise batch's items were chosen among: its prompt set's prompts that both of its
    generation sets answered (`shared_prompts` under the decodings of its items' answers). For a drawn
    batch this is the N its draw probabilities sum to 1 over (generations are insert-only, so it changes
    only when answers to more of the set's prompts are generated after the batch was made)."""
    tables = shared_batches.tables_of(store)
    b, i = tables.batches, tables.items
    ga, gb = t.generations.alias("ga"), t.generations.alias("gb")
    query = (
        select(b.c.model_id, b.c.baseline_id, b.c.prompt_set, ga.c.decoding_hash, gb.c.decoding_hash)
        .join(i, i.c.batch_id == b.c.id)
        .join(ga, ga.c.id == i.c.generation_a)
        .join(gb, gb.c.id == i.c.generation_b)
        .where(b.c.id == batch)
        .limit(1)
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise EvalkitError(f"annotation batch {batch} has no pairwise items")
    return shared_prompts(store, int(row[0]), int(row[1]), str(row[2]), str(row[3]), str(row[4]))
