"""Writing human labels: insert-only, at most one per (annotator, item), at most K (`per_item`) per
item, and each with its source. Pairwise labels and absolute ratings share this code.

The cap must hold when two annotators (or an annotator and an import) label the same item at once. A
count followed by an insert does not: both processes count K-1 and both insert (7 of 300 items got
two labels with K = 1). So a write first locks the items it labels, for the rest of its transaction:
SQLite's BEGIN IMMEDIATE takes the database's write lock before anything is read; on PostgreSQL,
SELECT ... FOR UPDATE locks the item rows, and at READ COMMITTED each later statement sees what the
previous holder committed. The insert then carries the cap in its own WHERE clause (INSERT ... SELECT
... WHERE (labels of the item) < K), so the check and the write are one statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, func, insert, literal, null, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from evalkit.errors import EvalkitError
from evalkit.store import schema as t
from evalkit.store.store import Store

# The longest annotator name the schema stores (PostgreSQL refuses a longer one; SQLite would keep it).
ANNOTATOR_MAX = int(t.human_labels.c.annotator.type.length)  # type: ignore[attr-defined]  # String(200)
LOCK_CHUNK = 500  # items locked per statement: under SQLite's bound-parameter limit


@dataclass(frozen=True)
class LabelTables:
    """One kind of label: its items, its labels and the batches that give each item its K."""

    items: Table
    labels: Table
    batches: Table
    noun: str  # for messages: "annotation item", "rating item"


PAIRWISE = LabelTables(t.annotation_items, t.human_labels, t.annotation_batches, "annotation item")
ABSOLUTE = LabelTables(t.rating_items, t.rating_labels, t.rating_batches, "rating item")


@dataclass(frozen=True)
class NewLabel:
    annotator: str
    item_id: int
    label: str
    source: str  # "invitation:ID", "import:FILE", ... (see schema.human_labels.source)


def check_annotator(name: str, where: str = "") -> str:
    """The name as stored (stripped), or one line saying why it cannot be stored on every database."""
    prefix = f"{where}: " if where else ""
    name = name.strip()
    if not name:
        raise EvalkitError(f"{prefix}an annotator name is required")
    if len(name) > ANNOTATOR_MAX:
        raise EvalkitError(f"{prefix}annotator name is {len(name)} characters; at most {ANNOTATOR_MAX} are stored")
    if "\x00" in name:  # PostgreSQL text cannot hold NUL
        raise EvalkitError(f"{prefix}annotator name contains a NUL character")
    return name


def source_column(store: Store, labels: Table) -> Any:
    """The labels' source for a query; NULL on a version-1 store read without upgrading it."""
    return labels.c.source if store.has_label_sources else null().label("source")


def _lock_items(conn: Connection, tables: LabelTables, item_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Lock the items (see the module docstring); item id -> (batch id, K) for those that exist."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    i, b = tables.items, tables.batches
    found: dict[int, tuple[int, int]] = {}
    for start in range(0, len(item_ids), LOCK_CHUNK):  # ascending ids: two writers never wait on each other in a cycle
        chunk = item_ids[start : start + LOCK_CHUNK]
        locked = select(i.c.id, i.c.batch_id).where(i.c.id.in_(chunk)).order_by(i.c.id).with_for_update()
        batch_of = {int(item): int(batch) for item, batch in conn.execute(locked)}
        caps = dict(conn.execute(select(b.c.id, b.c.per_item).where(b.c.id.in_(sorted(set(batch_of.values()))))).tuples().all())
        found.update({item: (batch, int(caps[batch])) for item, batch in batch_of.items()})
    return found


def _insert_capped(conn: Connection, tables: LabelTables, label: NewLabel, cap: int, now: dt.datetime) -> bool:
    """One statement: insert unless the item has its K labels or this annotator's label; True if written."""
    h = tables.labels
    taken = select(func.count()).select_from(h).where(h.c.item_id == label.item_id).scalar_subquery()
    row = select(
        literal(label.annotator, h.c.annotator.type),
        literal(label.item_id, h.c.item_id.type),
        literal(label.label, h.c.label.type),
        literal(label.source, h.c.source.type),
        literal(now, h.c.created_at.type),
    ).where(taken < cap)
    columns = ["annotator", "item_id", "label", "source", "created_at"]
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        module: Any = sqlite if dialect == "sqlite" else postgresql
        statement = module.insert(h).from_select(columns, row).on_conflict_do_nothing().returning(h.c.id)
        return conn.execute(statement).first() is not None
    try:  # other databases: the unique key refuses a second label by the same annotator
        with conn.begin_nested():
            return bool(conn.execute(insert(h).from_select(columns, row)).rowcount)
    except IntegrityError:
        return False


def write_labels(store: Store, tables: LabelTables, labels: Sequence[NewLabel], batch: int | None = None) -> int:
    """Store the labels in one transaction (all or nothing); returns how many were written. A label is
    skipped when its annotator already labelled the item or the item has its K labels; existing labels
    are never changed. An item that does not exist (or is not in `batch`) fails the whole write."""
    if not labels:
        return 0
    now = dt.datetime.now(dt.timezone.utc)
    with store.engine.begin() as conn:
        items = _lock_items(conn, tables, sorted({label.item_id for label in labels}))
        written = 0
        for label in labels:
            found = items.get(label.item_id)
            if found is None or (batch is not None and found[0] != batch):
                where = " in this batch" if batch is not None else ""
                raise EvalkitError(f"{tables.noun} {label.item_id} does not exist{where}")
            written += _insert_capped(conn, tables, label, found[1], now)
    return written
