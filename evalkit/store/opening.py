"""Opening a store safely: every way a --db can be wrong ends in one line, a reader never creates or
alters a store, and a store file that a failed command created (holding no work yet) can be removed.

SQLite files are looked at with the plain sqlite3 module, read-only, before SQLAlchemy connects:
SQLAlchemy's connect would create a missing file, and our pragmas (WAL) would rewrite a foreign one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from evalkit.core.errors import EvalkitError
from evalkit.core.redaction import redact_url
from evalkit.store.readonly import cannot_read, connect_read_only

# The extra that installs each dialect's default driver (SQLAlchemy names the module it could not import).
DRIVER_HINTS = {
    "postgresql": "install evalkit[postgres] and use postgresql+psycopg://...",
    "mysql": "install a MySQL driver (pip install pymysql) and use mysql+pymysql://...",
}


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise EvalkitError(
            f"--db {redact_url(url)!r} is not a database URL; use e.g. sqlite:///evalkit.db or postgresql+psycopg://HOST/DB"
        ) from None


def sqlite_path(parsed: URL) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory SQLite."""
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def sqlite_tables(path: Path) -> list[str]:
    """Table names of an existing SQLite file, read without creating or changing anything."""
    try:
        connection = connect_read_only(path)
        try:
            return [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        if cannot_read(exc):  # permissions or media, not the file's content: say so, not "not a store"
            raise EvalkitError(f"{path} cannot be read here ({exc}); check its permissions") from None
        raise EvalkitError(f"{path} is not an evalkit store ({exc}); pass another --db") from None


def check_sqlite_file(path: Path, read_only: bool) -> bool:
    """Refuse a missing store (readers), a corrupt file or a foreign database; True when the file is new."""
    if path.is_dir():
        raise EvalkitError(f"{path} is a folder, not a store file; pass --db sqlite:///PATH/evalkit.db")
    if not path.exists():
        if read_only:
            raise EvalkitError(f"no results store at {path}; pass --db, or run `evalkit run` / `evalkit generate` first")
        if not path.parent.is_dir():
            raise EvalkitError(f"cannot create store {path}: folder {path.parent} does not exist")
        return True
    tables = sqlite_tables(path)
    if tables and "meta" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise EvalkitError(f"{path} is not an evalkit store (it holds other tables: {shown}); pass another --db")
    if not tables and read_only:
        raise EvalkitError(f"{path} is not an evalkit store (empty database); pass another --db")
    return False


def make_engine(url: str, parsed: URL) -> Engine:
    """SQLAlchemy engine, or one line naming an unknown scheme or a missing driver."""
    try:
        return create_engine(url, future=True)
    except NoSuchModuleError:
        raise EvalkitError(
            f"--db {redact_url(url)}: unknown database scheme {parsed.drivername!r}; "
            "use sqlite:///FILE or postgresql+psycopg://..."
        ) from None
    except ImportError as exc:
        hint = DRIVER_HINTS.get(parsed.get_backend_name(), f"install the Python driver for {parsed.get_backend_name()}")
        raise EvalkitError(
            f"--db {redact_url(url)}: database driver {exc.name or parsed.drivername!r} is not installed; {hint}"
        ) from None
    except (ArgumentError, ValueError) as exc:
        raise EvalkitError(f"--db {redact_url(url)}: {exc}") from None
