"""A generation run killed with SIGKILL, then re-run: nothing missing, nothing duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import run_cli, write_prompts


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def test_sigkill_mid_run_then_rerun_completes_exactly(tiny_model_dir: Path, tmp_path: Path) -> None:
    prompts, db = write_prompts(tmp_path / "p.jsonl", 40), tmp_path / "x.db"
    args = ["generate", "--checkpoint", str(tiny_model_dir), "--prompts", str(prompts), "--greedy",
            "--max-new-tokens", "48", "--batch-size", "2", "--db", f"sqlite:///{db}"]
    child = subprocess.Popen([sys.executable, "-m", "evalkit", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    deadline = time.monotonic() + 120
    while _count(db) < 6 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    survived = _count(db)
    assert 6 <= survived < 40, f"kill landed at {survived} rows; the run was not interrupted mid-way"

    rerun = run_cli(*args[:-4], "--batch-size", "40", *args[-2:])  # batch size is no part of any cache key
    assert rerun.returncode == 0, rerun.stderr
    assert f"{40 - survived} generated, {survived} already stored" in rerun.stdout
    with sqlite3.connect(db) as conn:
        total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT prompt_hash) FROM generations").fetchone()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert total == distinct == 40
