"""Upgrading an older store in place, on its first open by a writer (a reader never alters a store).

Each step takes a store from one schema version to the next and only adds nullable columns, so the
rows already there keep their meaning (a NULL says "stored before this column existed"). The whole
upgrade is one transaction (SQLite and PostgreSQL both roll DDL back) under a write lock, and the
version is read again under that lock: two processes opening the same old store at once upgrade it
once, and a failure leaves it at its old version.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, Table, inspect, select, update

from evalkit.store import schema as t


def _add_column(conn: Connection, table: Table, column: str) -> None:
    """ALTER TABLE ... ADD COLUMN, unless the table already has it: a table newer than the store
    (create_all makes a missing table in its current shape) needs nothing."""
    if column in {c["name"] for c in inspect(conn).get_columns(table.name)}:
        return
    prepare = conn.dialect.identifier_preparer
    kind = table.c[column].type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {prepare.format_table(table)} ADD COLUMN {prepare.quote(column)} {kind}")


def _label_sources(conn: Connection) -> None:
    """1 -> 2: labels record where they came from; older labels keep NULL ("before provenance")."""
    for table in (t.human_labels, t.rating_labels):
        _add_column(conn, table, "source")


# version -> the step that upgrades a store of that version to the next one
STEPS: dict[int, Callable[[Connection], None]] = {1: _label_sources}


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
