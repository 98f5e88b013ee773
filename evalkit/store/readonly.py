"""Reading a SQLite store without writing anything, also where nothing may be written: a store on
read-only media, or in a folder the user may not write.

A WAL store is read through its `-shm` side file, which SQLite creates beside the store when a reader
connects; where it cannot (the folder is not writable) even a `mode=ro` connection fails ("attempt to
write a readonly database"). With no `-shm` and no unfinished `-wal` there, no writer has the store open,
so it is opened `immutable=1`: SQLite then reads the file as it is, without side files or locks.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _unwritable_and_quiet(path: Path) -> bool:
    """The folder cannot take side files, and none that a writer leaves are there."""
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    unfinished_wal = wal.exists() and wal.stat().st_size > 0
    return not os.access(path.parent, os.W_OK) and not shm.exists() and not unfinished_wal


def read_only_uri(path: Path) -> str:
    """The SQLite URI that opens `path` read-only (`immutable` where the folder cannot take side files)."""
    resolved = path.resolve()
    return f"{resolved.as_uri()}?mode=ro" + ("&immutable=1" if _unwritable_and_quiet(resolved) else "")


def connect_read_only(path: Path, **options: Any) -> sqlite3.Connection:
    return sqlite3.connect(read_only_uri(path), uri=True, **options)


def reader_engine(path: Path) -> Engine:
    """The engine a reader (`Store(read_only=True)`) uses. Where the store and its folder may be written,
    a plain connection: evalkit writes nothing through it, and unlike a `mode=ro` one it removes the
    -wal / -shm files when it closes, so a reader leaves no files behind. Where they may not, every
    connection is read-only (immutable where needed): the only way to read it there."""
    from sqlalchemy import create_engine  # here: the command line imports this module before parsing arguments

    resolved = path.resolve()
    if os.access(resolved, os.W_OK) and os.access(resolved.parent, os.W_OK):
        return create_engine(f"sqlite:///{path}", future=True)
    uri = read_only_uri(path)
    # The URL picks the file's dialect and pool; the creator opens each connection read-only.
    return create_engine(
        f"sqlite:///{path}", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False), future=True
    )


# SQLite result codes of "this file cannot be opened or read here", as opposed to "not a database".
CANNOT_READ_CODES = frozenset({3, 8, 14})  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN


def cannot_read(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in CANNOT_READ_CODES
