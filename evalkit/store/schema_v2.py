"""The annotation tables as schema versions 1 and 2 left them: pairwise batches, items and labels in one
family, absolute ratings in another (rating_*), each with its own ids.

Kept for two readers only: the v2 -> v3 migration, which moves these rows into the one family of
schema.py, and a read-only open of an older store, which reads them where they are (a reader never
alters a store). `unified_view` shows them in version 3's shape, with the ids the migration gives them,
so both readers see the same rows under the same ids. Never created on a new store (own MetaData).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    ScalarSelect,
    String,
    Subquery,
    Table,
    Text,
    UniqueConstraint,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)

from evalkit.store import schema as t

metadata = MetaData()

annotation_batches = Table(
    "annotation_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("model_id", Integer, ForeignKey(t.models.c.id), nullable=False),
    Column("baseline_id", Integer, ForeignKey(t.models.c.id), nullable=False),
    Column("prompt_set", String(200), nullable=False),
    Column("per_item", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)

annotation_items = Table(
    "annotation_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("annotation_batches.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("prompt_hash", t.HASH, ForeignKey(t.prompts.c.hash), nullable=False),
    Column("generation_a", Integer, ForeignKey(t.generations.c.id), nullable=False),
    Column("generation_b", Integer, ForeignKey(t.generations.c.id), nullable=False),
    Column("order", String(2), nullable=False),
    UniqueConstraint("batch_id", "prompt_hash", name="uq_annotation_item"),
)

human_labels = Table(
    "human_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("annotator", String(200), nullable=False),
    Column("item_id", Integer, nullable=False),
    Column("label", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    Column("source", Text),  # version 2
    UniqueConstraint("annotator", "item_id", name="uq_human_label"),
)

rating_batches = Table(
    "rating_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("prompt_set", String(200), nullable=False),
    Column("per_item", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)

rating_items = Table(
    "rating_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", Integer, ForeignKey("rating_batches.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("prompt_hash", t.HASH, ForeignKey(t.prompts.c.hash), nullable=False),
    Column("model_id", Integer, ForeignKey(t.models.c.id), nullable=False),
    Column("generation_id", Integer, ForeignKey(t.generations.c.id), nullable=False),
    UniqueConstraint("batch_id", "generation_id", name="uq_rating_item"),
)

rating_labels = Table(
    "rating_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("annotator", String(200), nullable=False),
    Column("item_id", Integer, ForeignKey("rating_items.id"), nullable=False),
    Column("label", String(12), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    Column("source", Text),  # version 2
    UniqueConstraint("annotator", "item_id", name="uq_rating_label"),
)

LABEL_TABLES = (human_labels, rating_labels)  # version 2 added `source` to both
# Children before parents: the order they can be dropped in.
TABLES = (human_labels, rating_labels, annotation_items, rating_items, annotation_batches, rating_batches)


@dataclass(frozen=True)
class UnifiedView:
    """Version 2's rows in version 3's shape (schema.annotation_batches / annotation_items /
    human_labels): pairwise rows keep their ids; a rating row's id is shifted past the largest pairwise
    id of its table, and its references shifted alike."""

    batches: CompoundSelect
    items: CompoundSelect
    labels: CompoundSelect


def _past(table: Table) -> ScalarSelect[Any]:
    """The shift of an absolute row's id: the largest id of the pairwise table (0 when it is empty)."""
    return select(func.coalesce(func.max(table.c.id), 0)).correlate(None).scalar_subquery()


def unified_view(has_sources: bool) -> UnifiedView:
    """`has_sources`: False for a version-1 store, whose labels have no source (read as NULL)."""
    b, i, h = annotation_batches, annotation_items, human_labels
    rb, ri, rl = rating_batches, rating_items, rating_labels
    batch_shift, item_shift, label_shift = _past(b), _past(i), _past(h)
    no_id = cast(null(), Integer)

    def source(labels: Table) -> ColumnElement[Any]:
        return labels.c.source if has_sources else cast(null(), Text).label("source")

    batches = union_all(
        select(
            b.c.id,
            b.c.name,
            literal_column("'pairwise'", String).label("kind"),
            b.c.model_id,
            b.c.baseline_id,
            b.c.prompt_set,
            b.c.per_item,
            b.c.created_at,
        ),
        select(
            (rb.c.id + batch_shift).label("id"),
            rb.c.name,
            literal_column("'absolute'", String).label("kind"),
            no_id.label("model_id"),
            no_id.label("baseline_id"),
            rb.c.prompt_set,
            rb.c.per_item,
            rb.c.created_at,
        ),
    )
    items = union_all(
        select(i.c.id, i.c.batch_id, i.c.position, i.c.prompt_hash, i.c.generation_a, i.c.generation_b, i.c.order),
        select(
            (ri.c.id + item_shift).label("id"),
            (ri.c.batch_id + batch_shift).label("batch_id"),
            ri.c.position,
            ri.c.prompt_hash,
            ri.c.generation_id.label("generation_a"),
            no_id.label("generation_b"),
            cast(null(), String).label("order"),
        ),
    )
    # A pairwise label whose item is gone (human_labels had no foreign key) was never readable: left out.
    labels = union_all(
        select(h.c.id, h.c.annotator, h.c.item_id, h.c.label, h.c.created_at, source(h)).where(h.c.item_id.in_(select(i.c.id))),
        select(
            (rl.c.id + label_shift).label("id"),
            rl.c.annotator,
            (rl.c.item_id + item_shift).label("item_id"),
            rl.c.label,
            rl.c.created_at,
            source(rl),
        ),
    )
    return UnifiedView(batches, items, labels)


def unified_tables(has_sources: bool) -> tuple[Subquery, Subquery, Subquery]:
    """(batches, items, labels) of an older store as subqueries with version 3's columns, so a
    read-only query written for version 3 reads it unchanged."""
    view = unified_view(has_sources)
    return (
        view.batches.subquery("v2_batches"),
        view.items.subquery("v2_items"),
        view.labels.subquery("v2_labels"),
    )
