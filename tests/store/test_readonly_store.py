"""A store on read-only media (issue 23): every reader works on a store whose file and folder may not
be written, where SQLite cannot create the -wal / -shm files a WAL store is read through.

Root ignores file modes, so as root the reader runs with the capabilities that let it (CAP_DAC_OVERRIDE,
CAP_DAC_READ_SEARCH, CAP_FOWNER) dropped from its bounding set: the modes then apply as they do to
any user, and as a read-only mount does."""

from __future__ import annotations

import ctypes
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from evalkit.cli.main import main

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3
READ_ONLY_FILE = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
READ_ONLY_FOLDER = READ_ONLY_FILE | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def _drop_file_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def unprivileged() -> Callable[[], None] | None:
    return _drop_file_capabilities if os.geteuid() == 0 else None


def run_reader(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, "-m", "evalkit", *args], capture_output=True, text=True, timeout=120, env=env, preexec_fn=unprivileged()
    )


@pytest.fixture()
def store_with_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store with judgments in a folder of its own, closed cleanly (no -wal / -shm beside it)."""
    monkeypatch.chdir(tmp_path)
    rows = [{"instruction": f"question {i}", "output": f"answer {i}", "generator": "m"} for i in range(3)]
    (tmp_path / "m.json").write_text(json.dumps(rows))
    (tmp_path / "b.json").write_text(json.dumps([{**row, "output": "other", "generator": "b"} for row in rows]))
    folder = tmp_path / "media"
    folder.mkdir()
    db = folder / "evalkit.db"
    judged = ["judge", "--judge", "reference", "--outputs", "m.json", "--baseline", "b.json", "--prompts", "m.json"]
    main([*judged, "--db", f"sqlite:///{db}"])
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    assert sorted(p.name for p in folder.iterdir()) == ["evalkit.db"]
    yield db
    folder.chmod(0o755)
    db.chmod(0o644)


def check_the_modes_bind(folder: Path) -> None:
    probe = subprocess.run(["touch", str(folder / "probe")], preexec_fn=unprivileged(), capture_output=True)
    if probe.returncode == 0:
        (folder / "probe").unlink()
        pytest.skip("this process may write a read-only folder anyway; nothing to test")


@pytest.mark.parametrize("folder_writable", [False, pytest.param(True, marks=pytest.mark.slow)])  # child processes
def test_readers_work_on_a_read_only_store(store_with_work: Path, folder_writable: bool) -> None:
    db, folder = store_with_work, store_with_work.parent
    before = db.read_bytes()
    db.chmod(READ_ONLY_FILE)
    if not folder_writable:
        folder.chmod(READ_ONLY_FOLDER)
        check_the_modes_bind(folder)
    url = f"sqlite:///{db}"
    for argv in (["stats", "summary", "--db", url, "--json"], ["agreement", "--db", url], ["annotate", "status", "--db", url]):
        result = run_reader(*argv)
        assert "not an evalkit store" not in result.stderr and "Traceback" not in result.stderr, (argv, result.stderr)
        assert result.returncode in (0, 1) or "no annotation" in result.stderr or "no human" in result.stderr, (argv, result)
    summary = json.loads(run_reader("stats", "summary", "--db", url, "--json").stdout)
    assert summary["pairwise"] and summary["pairwise"][0]["n"] == 3
    assert db.read_bytes() == before
