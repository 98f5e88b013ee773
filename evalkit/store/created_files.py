"""Store files this process created, so the command line can remove them when a command fails on bad
input: a typo leaves no new file. Kept apart from `opening` so the command line can import it before it
parses arguments without loading SQLAlchemy (`evalkit --help` stays quick)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.core.errors import EvalkitError
from evalkit.store.readonly import connect_read_only

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Tables whose rows are only bookkeeping a command writes before its real work (the schema stamp, the
# prompt set, the model's name, the record of the invocation and its judges' specs): a new store holding
# nothing else can be removed after a failure. (Leaving `runs` out once kept the store of a `run` whose
# --baseline was a typo: its run record counted as work.)
BOOKKEEPING_TABLES = frozenset({"meta", "prompts", "prompt_sets", "prompt_set_items", "models", "runs", "judge_specs"})
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass
class CreatedStore:
    path: Path
    engine: Engine


_created: list[CreatedStore] = []


def note_created(path: Path, engine: Engine) -> None:
    _created.append(CreatedStore(path, engine))


def forget_created_stores() -> None:
    _created.clear()


def _holds_work(path: Path) -> bool:
    try:
        connection = connect_read_only(path)
    except sqlite3.Error:
        return True
    try:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            if table not in BOOKKEEPING_TABLES and connection.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():
                return True
        return False
    except (sqlite3.Error, EvalkitError):
        return True
    finally:
        connection.close()


def remove_stores_created_empty() -> list[Path]:
    """Delete store files this process created that hold no work (only the schema, a prompt set, model
    names): a command that failed on bad input leaves no new file. Stores with work stay, so nothing
    a re-run would reuse is lost."""
    removed = []
    for created in _created:
        created.engine.dispose()
        if created.path.exists() and not _holds_work(created.path):
            for suffix in ("", *SQLITE_SIDE_FILES):
                Path(f"{created.path}{suffix}").unlink(missing_ok=True)
            removed.append(created.path)
    _created.clear()
    return removed
