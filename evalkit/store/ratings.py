"""LIMA's absolute rating (Figure 3): annotators rate one answer at a time as Fail, Pass or Excellent.

A batch holds the answers of one or more models on one prompt set, shuffled once at creation (seeded
by the batch name) so that an annotator does not see one model's answers in a row and every annotator
walks the same order; the screen never names the model. Labels are insert-only and each item takes
at most `per_item` (K) labels, as in the pairwise batches: the absolute kind's face over
label_batches.py, which pairwise annotation (annotations.py) shares.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, select

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import sha256_text
from evalkit.core.records import context_of
from evalkit.store import label_batches as shared_batches
from evalkit.store import schema as t
from evalkit.store.generation_sets import choose_decoding
from evalkit.store.label_writes import ABSOLUTE
from evalkit.store.store import Store

# LIMA section 4 (Figure 3), in the order the bar stacks them (schema.ABSOLUTE_LABELS).
RATINGS: dict[str, str] = dict(
    zip(
        t.ABSOLUTE_LABELS,
        (
            "Fail: the response does not meet the requirements of the prompt.",
            "Pass: the response meets the requirements of the prompt.",
            "Excellent: the model provides an excellent response to the prompt.",
        ),
        strict=True,
    )
)


@dataclass(frozen=True)
class RatingItem:
    """What an annotator sees: the question and one answer, no model name."""

    item_id: int
    position: int
    instruction: str
    answer: str
    context: tuple[dict[str, str], ...] = ()  # earlier turns of a multi-turn prompt, shown before the question


def name_taken(conn: Connection, name: str) -> bool:
    """Invitations name batches, so a name is unique across pairwise and absolute batches."""
    return shared_batches.name_taken(conn, name)


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
    if shared_batches.batch_exists(store, name):  # before the answers: the name is the first thing wrong
        raise EvalkitError(f"annotation batch {name!r} already exists; pick another --name")
    shared = [p for p in prompts if all((m, p) in answers for m in model_ids)][:limit]
    if not shared:
        raise EvalkitError(f"the models have no answers in common on prompt set {prompt_set!r}; generate them first")
    pairs = [(m, p) for p in shared for m in model_ids]
    random.Random(seed if seed is not None else int(sha256_text(name)[:12], 16)).shuffle(pairs)
    items = [{"position": position, "prompt_hash": p, "generation_a": answers[(m, p)]} for position, (m, p) in enumerate(pairs)]
    return shared_batches.create(store, ABSOLUTE, name, prompt_set, per_item, items)


def next_rating_item(store: Store, batch: int, annotator: str) -> RatingItem | None:
    """The first item in batch order this annotator has not rated and that still needs ratings."""
    row = shared_batches.next_open_item(store, batch, annotator)
    if row is None:
        return None
    return RatingItem(int(row["id"]), int(row["position"]), row["instruction"], row["text_a"], context_of(list(row["messages"])))


def add_rating(store: Store, annotator: str, item_id: int, label: str, batch: int | None = None, *, source: str) -> bool:
    """Store one rating with its source; False (nothing written) when this annotator already rated the
    item or it has its K ratings. With `batch`, an item of another batch is refused (an invitation
    covers one batch)."""
    return shared_batches.add(store, ABSOLUTE, annotator, item_id, label, source=source, batch=batch)


def rating_progress(store: Store, batch: int, annotator: str) -> tuple[int, int]:
    """(items this annotator rated in the batch, items still open to them)."""
    return shared_batches.progress(store, batch, annotator)


def rating_batches(store: Store) -> pd.DataFrame:
    """Every absolute batch with its progress: items and labels."""
    query = shared_batches.batches_query(shared_batches.tables_of(store), ABSOLUTE)
    columns = ["id", "name", "prompt_set", "per_item", "created_at", "n_items", "n_labels"]
    return shared_batches.batches_frame(store, query)[columns]


def ratings(store: Store, batch: int | None = None) -> pd.DataFrame:
    """Every human rating with its source and item: batch, prompt, model, generation."""
    tables = shared_batches.tables_of(store)
    i, g, m = tables.items, t.generations.alias("rated"), t.models
    query = (
        shared_batches.labels_query(tables, ABSOLUTE, batch)
        .add_columns(g.c.model_id, m.c.name.label("model"), i.c.generation_a.label("generation_id"))
        .join(g, g.c.id == i.c.generation_a)
        .join(m, m.c.id == g.c.model_id)
    )
    return store.frame(query)


def judge_scores(store: Store, batch: int, judge_kind: str) -> pd.DataFrame:
    """The valid sample-0 judgments of a judge of single answers (`judge_kind`) on the batch's answers,
    in the order stored: id, judge_model, judge_spec_hash, score, item_id, model."""
    j, u, i = t.judgments, t.judgment_uses, shared_batches.tables_of(store).items
    g, m = t.generations.alias("rated"), t.models
    query = (
        select(j.c.id, j.c.judge_model, j.c.judge_spec_hash, j.c.score, i.c.id.label("item_id"), m.c.name.label("model"))
        .select_from(u)
        .join(j, j.c.cache_key == u.c.cache_key)
        .join(i, i.c.generation_a == u.c.generation_a)
        .join(g, g.c.id == i.c.generation_a)
        .join(m, m.c.id == g.c.model_id)
        .where(
            j.c.judge_kind == judge_kind,
            j.c.valid.is_(True),
            j.c.sample == 0,
            u.c.generation_b.is_(None),
            i.c.batch_id == batch,
        )
        .order_by(j.c.id)
    )
    return store.frame(query)


def rating_items(store: Store, batch: int) -> pd.DataFrame:
    """The batch's items: id, position, prompt_hash, model_id, generation_id (the rated answer)."""
    i, g = shared_batches.tables_of(store).items, t.generations
    query = (
        select(i.c.id, i.c.position, i.c.prompt_hash, g.c.model_id, i.c.generation_a.label("generation_id"))
        .join(g, g.c.id == i.c.generation_a)
        .where(i.c.batch_id == batch)
        .order_by(i.c.id)
    )
    return store.frame(query)
