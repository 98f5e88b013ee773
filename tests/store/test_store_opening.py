"""Opening a store: wrong --db values end in one line, readers never create or alter a store, a
store a failed command created is removed, and files come out with the user's umask."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from evalkit.core.errors import EvalkitError
from evalkit.core.records import Decision
from evalkit.files.fileperms import apply_umask
from evalkit.files.jsonio import write_json_atomic
from evalkit.store import Store
from evalkit.store.created_files import forget_created_stores, remove_stores_created_empty


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_sqlite(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE models (id INTEGER, name TEXT)")
    connection.execute("INSERT INTO models VALUES (1, 'theirs')")
    connection.commit()
    connection.close()
    return path


@pytest.mark.parametrize("read_only", [False, True])
def test_corrupt_and_foreign_files_are_refused_untouched(tmp_path: Path, read_only: bool) -> None:
    corrupt = tmp_path / "x.db"
    corrupt.write_bytes(os.urandom(4096))
    foreign = foreign_sqlite(tmp_path / "theirs.db")
    for path, reason in ((corrupt, "file is not a database"), (foreign, "other tables: models")):
        before = digest(path)
        with pytest.raises(EvalkitError, match=f"{path} is not an evalkit store \\(.*{reason}"):
            Store(f"sqlite:///{path}", read_only=read_only)
        assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.db", "x.db"]  # no -wal / -shm left either


def test_a_reader_never_creates_a_store(tmp_path: Path) -> None:
    with pytest.raises(EvalkitError, match=f"no results store at {tmp_path / 'typo.db'}"):
        Store(f"sqlite:///{tmp_path / 'typo.db'}", read_only=True)
    (tmp_path / "empty.db").touch()
    with pytest.raises(EvalkitError, match="empty database"):
        Store(f"sqlite:///{tmp_path / 'empty.db'}", read_only=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_a_reader_opens_an_existing_store_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "evalkit.db"
    Store(f"sqlite:///{path}").engine.dispose()
    before = digest(path)
    reader = Store(f"sqlite:///{path}", read_only=True)
    assert reader.models().empty
    reader.engine.dispose()
    assert digest(path) == before


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("foo://x", "unknown database scheme 'foo'"),
        ("mysql://user:hunter2@localhost/db", "driver 'MySQLdb' is not installed; install a MySQL driver"),
        ("not a url", "is not a database URL"),
    ],
)
def test_bad_urls_name_the_fix_and_hide_the_password(url: str, expected: str) -> None:
    with pytest.raises(EvalkitError) as error:
        Store(url)
    assert expected in str(error.value) and "hunter2" not in str(error.value)


def test_stores_created_by_a_failed_command_go_unless_they_hold_work(tmp_path: Path) -> None:
    forget_created_stores()
    fresh, worked, existing = tmp_path / "fresh.db", tmp_path / "worked.db", tmp_path / "existing.db"
    Store(f"sqlite:///{existing}").engine.dispose()
    forget_created_stores()
    Store(f"sqlite:///{fresh}")
    Store(f"sqlite:///{existing}")
    Store(f"sqlite:///{worked}").add_decision(Decision("run", "epoch-5", 5, "policy", {}), None)
    assert remove_stores_created_empty() == [fresh]
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["existing.db", "worked.db"]
    assert not list(tmp_path.glob("fresh.db*"))


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "picked.json", {"chosen": "epoch-5"})
        folder = tmp_path / "epoch-5"
        folder.mkdir(mode=0o700)
        (folder / "model.safetensors").touch(mode=0o600)
        apply_umask(folder)
    finally:
        os.umask(previous)
    assert (tmp_path / "picked.json").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (folder / "model.safetensors").stat().st_mode & 0o777 == 0o666 & ~umask
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
