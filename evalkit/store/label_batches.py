"""Human annotation batches of both kinds (annotation_batches.kind: "pairwise" or "absolute"), written
and read once for both: make a batch, find one, the next item an annotator sees, a label, progress, and
the lists of batches and labels. annotations.py and ratings.py are the two kinds' typed faces over it.

Every annotator walks a batch in the same order (`position`), so items fill up to K labels (and become
comparable) before new ones are started. Reads go through `tables_of`, which reads an older store that
a read-only open left as it was (schema_v2.py) in the current shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, FromClause, RowMapping, Select, func, insert, select

from evalkit.core.errors import EvalkitError
from evalkit.store import schema as t
from evalkit.store import schema_v2
from evalkit.store.label_writes import LabelKind, NewLabel, check_annotator, check_label, write_labels
from evalkit.store.store import Store


@dataclass(frozen=True)
class LabelTables:
    """The batches, items and labels a read goes through: the tables, or an older store's view of them."""

    batches: FromClause
    items: FromClause
    labels: FromClause


def tables_of(store: Store) -> LabelTables:
    if store.schema_version >= 3:
        return LabelTables(t.annotation_batches, t.annotation_items, t.human_labels)
    return LabelTables(*schema_v2.unified_tables(store.has_label_sources))


def _missing(name: str) -> EvalkitError:
    return EvalkitError(f"annotation batch {name!r} does not exist; make it with `evalkit annotate create`")


def name_taken(conn: Connection, name: str) -> bool:
    """Invitations name batches, so a name is unique across both kinds."""
    b = t.annotation_batches
    return conn.execute(select(b.c.id).where(b.c.name == name)).first() is not None


def batch_exists(store: Store, name: str) -> bool:
    with store.engine.connect() as conn:
        return name_taken(conn, name)


def create(
    store: Store, kind: LabelKind, name: str, prompt_set: str, per_item: int, items: Sequence[Mapping[str, Any]], **batch: Any
) -> tuple[int, int]:
    """Store a batch of this kind with its items (position, prompt_hash, generation_a, and for a pairwise
    batch generation_b and order) in one transaction; returns (batch id, items). `batch`: the kind's
    own batch columns (a pairwise batch's model_id and baseline_id)."""
    with store.engine.begin() as conn:
        if name_taken(conn, name):
            raise EvalkitError(f"annotation batch {name!r} already exists; pick another --name")
        batch_id = conn.execute(
            insert(t.annotation_batches).values(name=name, kind=kind.kind, prompt_set=prompt_set, per_item=per_item, **batch)
        ).inserted_primary_key[0]  # type: ignore[index]  # an insert always has one
        conn.execute(insert(t.annotation_items), [{**item, "batch_id": batch_id} for item in items])
    return int(batch_id), len(items)


def find_batch(store: Store, name: str) -> tuple[str, int]:
    """(kind, id) of the batch called `name`, of either kind."""
    b = tables_of(store).batches
    with store.engine.connect() as conn:
        row = conn.execute(select(b.c.kind, b.c.id).where(b.c.name == name)).first()
    if row is None:
        raise _missing(name)
    return str(row[0]), int(row[1])


def batch_id(store: Store, kind: LabelKind, name: str) -> int:
    """The id of the batch of this kind called `name`."""
    b = tables_of(store).batches
    with store.engine.connect() as conn:
        found = conn.execute(select(b.c.id).where(b.c.name == name, b.c.kind == kind.kind)).scalar()
    if found is None:
        raise _missing(name)
    return int(found)


def _open_items(tables: LabelTables, batch: int, annotator: str) -> Select:
    """Items of the batch this annotator has not labelled and that still need labels (fewer than K)."""
    i, h, b = tables.items, tables.labels, tables.batches
    mine = select(h.c.item_id).where(h.c.annotator == annotator)
    counts = select(h.c.item_id, func.count().label("n")).group_by(h.c.item_id).subquery()
    return (
        select(i.c.id, i.c.position)
        .join(b, b.c.id == i.c.batch_id)
        .outerjoin(counts, counts.c.item_id == i.c.id)
        .where(i.c.batch_id == batch, i.c.id.not_in(mine), func.coalesce(counts.c.n, 0) < b.c.per_item)
    )


def next_open_item(store: Store, batch: int, annotator: str) -> RowMapping | None:
    """The first open item in batch order, as shown: id, position, order, instruction, messages, text_a
    (the model's or the rated answer), text_b (the baseline's; None in an absolute batch). None when
    nothing is left for this annotator."""
    tables = tables_of(store)
    i, p = tables.items, t.prompts
    first = _open_items(tables, batch, annotator).order_by(i.c.position).limit(1).subquery()
    ga, gb = t.generations.alias("ga"), t.generations.alias("gb")
    query = (
        select(
            i.c.id,
            i.c.position,
            i.c.order,
            p.c.instruction,
            p.c.messages,
            ga.c.text.label("text_a"),
            gb.c.text.label("text_b"),
        )
        .join(first, first.c.id == i.c.id)
        .join(p, p.c.hash == i.c.prompt_hash)
        .join(ga, ga.c.id == i.c.generation_a)
        .outerjoin(gb, gb.c.id == i.c.generation_b)
    )
    with store.engine.connect() as conn:
        return conn.execute(query).mappings().first()


def add(
    store: Store, kind: LabelKind, annotator: str, item_id: int, label: str, *, source: str, batch: int | None = None
) -> bool:
    """Store one label with where it came from; False (nothing written) when this annotator already
    labelled the item or it already has its K labels, also when others label it at the same moment
    (label_writes.py). With `batch`, an item of another batch is refused (an invitation covers one)."""
    annotator = check_annotator(annotator)
    check_label(kind, label)
    return write_labels(store, kind, [NewLabel(annotator, item_id, label, source)], batch=batch) == 1


def progress(store: Store, batch: int, annotator: str) -> tuple[int, int]:
    """(items this annotator labelled in the batch, items still open to them)."""
    tables = tables_of(store)
    i, h = tables.items, tables.labels
    done = (
        select(func.count())
        .select_from(h.join(i, i.c.id == h.c.item_id))
        .where(i.c.batch_id == batch, h.c.annotator == annotator)
    )
    remaining = select(func.count()).select_from(_open_items(tables, batch, annotator).subquery())
    with store.engine.connect() as conn:
        return int(conn.execute(done).scalar_one()), int(conn.execute(remaining).scalar_one())


def batches_query(tables: LabelTables, kind: LabelKind) -> Select:
    """Every batch of this kind with its progress: id, name, model_id, baseline_id, prompt_set,
    per_item, created_at, n_items, n_labels (NULL counts: none yet; see `batches_frame`)."""
    b, i, h = tables.batches, tables.items, tables.labels
    items = select(i.c.batch_id, func.count().label("n_items")).group_by(i.c.batch_id).subquery()
    labels = (
        select(i.c.batch_id, func.count(h.c.id).label("n_labels"))
        .select_from(h.join(i, i.c.id == h.c.item_id))
        .group_by(i.c.batch_id)
        .subquery()
    )
    return (
        select(
            b.c.id,
            b.c.name,
            b.c.model_id,
            b.c.baseline_id,
            b.c.prompt_set,
            b.c.per_item,
            b.c.created_at,
            items.c.n_items,
            labels.c.n_labels,
        )
        .outerjoin(items, items.c.batch_id == b.c.id)
        .outerjoin(labels, labels.c.batch_id == b.c.id)
        .where(b.c.kind == kind.kind)
        .order_by(b.c.id)
    )


def batches_frame(store: Store, query: Select) -> pd.DataFrame:
    frame = store.frame(query)
    frame[["n_items", "n_labels"]] = frame[["n_items", "n_labels"]].fillna(0).astype(int)
    return frame


def labels_query(tables: LabelTables, kind: LabelKind, batch: int | None) -> Select:
    """Every label of this kind (of one batch, or all) in the order given: id, annotator, item_id,
    label, created_at, source, batch_id, prompt_hash."""
    h, i, b = tables.labels, tables.items, tables.batches
    query = (
        select(h.c.id, h.c.annotator, h.c.item_id, h.c.label, h.c.created_at, h.c.source, i.c.batch_id, i.c.prompt_hash)
        .join(i, i.c.id == h.c.item_id)
        .join(b, b.c.id == i.c.batch_id)
        .where(b.c.kind == kind.kind)
        .order_by(h.c.id)
    )
    return query if batch is None else query.where(i.c.batch_id == batch)


def item_positions(store: Store, batch: int) -> pd.Series:
    """item id -> position, of one batch."""
    i = tables_of(store).items
    return store.frame(select(i.c.id, i.c.position).where(i.c.batch_id == batch)).set_index("id")["position"]
