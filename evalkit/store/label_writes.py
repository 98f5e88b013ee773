"""Writing human labels: insert-only, at most one per (annotator, item), at most K (`per_item`) per
item, and each with its source. Pairwise labels and absolute ratings share this code and one table.

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

from sqlalchemy import Connection, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from evalkit.core.errors import EvalkitError
from evalkit.core.vocabulary import VERDICTS
from evalkit.store import schema as t
from evalkit.store.store import Store

# The longest annotator name the schema stores (PostgreSQL refuses a longer one; SQLite would keep it).
ANNOTATOR_MAX = int(t.human_labels.c.annotator.type.length)  # type: ignore[attr-defined]  # String(200)
LOCK_CHUNK = 500  # items locked per statement: under SQLite's bound-parameter limit


@dataclass(frozen=True)
class LabelKind:
    """One kind of batch (annotation_batches.kind) and the labels its items take."""

    kind: str
    labels: tuple[str, ...]
    noun: str  # for messages: "annotation item", "rating item"
    label_word: str  # for messages: "label", "rating"


PAIRWISE = LabelKind("pairwise", VERDICTS, "annotation item", "label")
ABSOLUTE = LabelKind("absolute", t.ABSOLUTE_LABELS, "rating item", "rating")
KINDS = {kind.kind: kind for kind in (PAIRWISE, ABSOLUTE)}


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


def check_label(kind: LabelKind, label: str) -> None:
    """A label of another kind (or none) is the caller's error, named in one line."""
    if label not in kind.labels:
        raise EvalkitError(f"{kind.label_word} must be one of {', '.join(kind.labels)}, got {label!r}")


def _lock_items(conn: Connection, kind: LabelKind, item_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Lock the items (see the module docstring); item id -> (batch id, K) for those that exist in a
    batch of this kind."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    i, b = t.annotation_items, t.annotation_batches
    found: dict[int, tuple[int, int]] = {}
    for start in range(0, len(item_ids), LOCK_CHUNK):  # ascending ids: two writers never wait on each other in a cycle
        chunk = item_ids[start : start + LOCK_CHUNK]
        locked = select(i.c.id, i.c.batch_id).where(i.c.id.in_(chunk)).order_by(i.c.id).with_for_update()
        batch_of = {int(item): int(batch) for item, batch in conn.execute(locked)}
        of_kind = b.c.id.in_(sorted(set(batch_of.values()))) & (b.c.kind == kind.kind)
        caps = dict(conn.execute(select(b.c.id, b.c.per_item).where(of_kind)).tuples().all())
        found.update({item: (batch, int(caps[batch])) for item, batch in batch_of.items() if batch in caps})
    return found


def _insert_capped(conn: Connection, label: NewLabel, cap: int, now: dt.datetime) -> bool:
    """One statement: insert unless the item has its K labels or this annotator's label; True if written."""
    h = t.human_labels
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


def write_labels(store: Store, kind: LabelKind, labels: Sequence[NewLabel], batch: int | None = None) -> int:
    """Store the labels in one transaction (all or nothing); returns how many were written. A label is
    skipped when its annotator already labelled the item or the item has its K labels; existing labels
    are never changed. An item that does not exist (in a batch of this kind, or in `batch`) fails the
    whole write. The caller has checked each label's value (check_label)."""
    if not labels:
        return 0
    now = dt.datetime.now(dt.timezone.utc)
    with store.engine.begin() as conn:
        items = _lock_items(conn, kind, sorted({label.item_id for label in labels}))
        written = 0
        for label in labels:
            found = items.get(label.item_id)
            if found is None or (batch is not None and found[0] != batch):
                where = " in this batch" if batch is not None else ""
                raise EvalkitError(f"{kind.noun} {label.item_id} does not exist{where}")
            written += _insert_capped(conn, label, found[1], now)
    return written
