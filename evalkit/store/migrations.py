"""Upgrading an older store in place, on its first open by a writer (a reader never alters a store).

Each step takes a store from one schema version to the next and keeps every row's meaning: 1 -> 2
only adds nullable columns (a NULL says "stored before this column existed"); 2 -> 3 moves absolute
ratings into the one annotation table family (schema_v2.py says how their ids move); 3 -> 4 adds the
nullable draw weights of annotation items (NULL: not drawn by an unequal-probability design); 4 -> 5
indexes judgment uses by answer. The whole
upgrade is one transaction (SQLite and PostgreSQL both roll DDL back) under a write lock, and the
version is read again under that lock: two processes opening the same old store at once upgrade it
once, and a failure leaves it at its old version.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, Table, func, insert, inspect, select, update

from evalkit.store import schema as t
from evalkit.store import schema_v2 as v2

MOVE_CHUNK = 5000  # rows per insert while moving a table


def _add_column(conn: Connection, table: Table, column: str) -> None:
    """ALTER TABLE ... ADD COLUMN, unless the table already has it."""
    if column in {c["name"] for c in inspect(conn).get_columns(table.name)}:
        return
    prepare = conn.dialect.identifier_preparer
    kind = table.c[column].type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {prepare.format_table(table)} ADD COLUMN {prepare.quote(column)} {kind}")


def _label_sources(conn: Connection) -> None:
    """1 -> 2: labels record where they came from; older labels keep NULL ("before provenance")."""
    for table in v2.LABEL_TABLES:
        _add_column(conn, table, "source")


def _one_annotation_family(conn: Connection) -> None:
    """2 -> 3: pairwise and absolute batches, items and labels in one family of tables with a `kind`.

    The old tables' names are the new ones' (and PostgreSQL names constraints, keys and sequences after
    them), so the rows are read whole in the new shape first, the old tables dropped, the new ones made
    and the rows written back with their ids. Invitations name their batch, and names do not change."""
    view = v2.unified_view(has_sources=True)
    moved = [
        (table, [dict(row) for row in conn.execute(query).mappings()])
        for table, query in (
            (t.annotation_batches, view.batches),
            (t.annotation_items, view.items),
            (t.human_labels, view.labels),
        )
    ]
    for old in v2.TABLES:
        old.drop(conn, checkfirst=True)
    t.metadata.create_all(conn, tables=[table for table, _ in moved])
    for table, rows in moved:
        for start in range(0, len(rows), MOVE_CHUNK):
            conn.execute(insert(table), rows[start : start + MOVE_CHUNK])
        if conn.dialect.name == "postgresql":  # ids were given: the sequence must go on after them
            largest = conn.execute(select(func.max(table.c.id))).scalar()
            if largest is not None:
                conn.execute(select(func.setval(func.pg_get_serial_sequence(table.name, "id"), largest)))


def _draw_weights(conn: Connection) -> None:
    """3 -> 4: an item's per-draw probability and draw count; every earlier item keeps NULL ("not drawn
    with unequal probability"). A store upgraded from 2 already has them: 2 -> 3 made the tables whole."""
    for column in ("draw_probability", "draws"):
        _add_column(conn, t.annotation_items, column)


def _uses_by_answer(conn: Connection) -> None:
    """4 -> 5: judgment uses indexed by answer (schema.py says why). Only an index: no row changes;
    `checkfirst`, as a store made empty by this version and marked older (the tests' old stores) has it."""
    for index in t.judgment_uses.indexes:
        if index.name == "ix_judgment_uses_generation_a":
            index.create(conn, checkfirst=True)


# version -> the step that upgrades a store of that version to the next one
STEPS: dict[int, Callable[[Connection], None]] = {
    1: _label_sources,
    2: _one_annotation_family,
    3: _draw_weights,
    4: _uses_by_answer,
}


def upgradable(version: int) -> bool:
    return version < t.SCHEMA_VERSION and all(v in STEPS for v in range(version, t.SCHEMA_VERSION))


def upgrade(engine: Engine) -> None:
    """Bring an older store to SCHEMA_VERSION. The caller has checked `upgradable`."""
    version_row = t.meta.c.key == "schema_version"
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before the version is read
            version = int(conn.execute(select(t.meta.c.value).where(version_row)).scalar_one())
        else:
            version = int(conn.execute(select(t.meta.c.value).where(version_row).with_for_update()).scalar_one())
        while version < t.SCHEMA_VERSION:  # another process may have upgraded it while we waited
            STEPS[version](conn)
            version += 1
            conn.execute(update(t.meta).where(version_row).values(value=str(version)))
