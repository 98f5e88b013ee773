"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The shared folder (reference data, seeds) sits beside the project root: ../shared.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ALPACA_EVAL_DATA = SHARED / "data" / "alpaca_eval"


def write_prompts(path: Path, count: int, words: int = 3) -> Path:
    rows = [{"id": f"p{i}", "prompt": f"Question {i}: " + " ".join(["sea"] * (1 + (i * 7) % words))} for i in range(count)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def run_cli(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m evalkit ...` in a child process, as a user would."""
    full_env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    return subprocess.run([sys.executable, "-m", "evalkit", *args], capture_output=True, text=True, timeout=timeout, env=full_env)


def count_generations(db: Path) -> int:
    """Rows in a SQLite store's generations table; 0 before the store or its tables exist (a run just started)."""
    if not db.exists():
        return 0
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])
        except sqlite3.OperationalError:  # tables not created yet
            return 0


@contextlib.contextmanager
def leaderboard_env(url: str, folder: Path) -> Iterator[None]:
    """The environment `evalkit leaderboard` gives its pages (EVALKIT_DB, EVALKIT_CACHE_DIR under
    `folder`) while a module's app tests run; afterwards the store's cache is idle and the environment
    is as it was."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EVALKIT_DB", url)
        patch.setenv("EVALKIT_CACHE_DIR", str(folder / "cache"))
        try:
            yield
        finally:
            from evalkit.leaderboard.cache import shared_cache

            shared_cache(url).wait_idle(timeout=60)
