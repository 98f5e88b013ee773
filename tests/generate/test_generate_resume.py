"""A generation run killed with SIGKILL, then re-run: nothing missing, nothing duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import count_generations, run_cli, write_prompts


def _kill_mid_run_then_rerun(checkpoint: Path, tmp_path: Path, prompts: int, kill_after: int, max_new_tokens: int) -> int:
    """Returns how many stored answers are empty."""
    prompts_file, db = write_prompts(tmp_path / "p.jsonl", prompts), tmp_path / "x.db"
    args = [
        "generate",
        "--checkpoint",
        str(checkpoint),
        "--prompts",
        str(prompts_file),
        "--greedy",
        "--max-new-tokens",
        str(max_new_tokens),
        "--batch-size",
        "2",
        "--db",
        f"sqlite:///{db}",
    ]
    child = subprocess.Popen(
        [sys.executable, "-m", "evalkit", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )
    deadline = time.monotonic() + 120
    while count_generations(db) < kill_after and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    survived = count_generations(db)
    assert kill_after <= survived < prompts, f"kill landed at {survived} rows; the run was not interrupted mid-way"

    rerun = run_cli(*args[:-4], "--batch-size", str(prompts), *args[-2:])  # batch size is no part of any cache key
    assert rerun.returncode == 0, rerun.stderr
    assert f"{prompts - survived} generated, {survived} already stored" in rerun.stdout
    with sqlite3.connect(db) as conn:
        total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT prompt_hash) FROM generations").fetchone()
        empty = conn.execute("SELECT COUNT(*) FROM generations WHERE text = ''").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert total == distinct == prompts
    return empty


@pytest.mark.slow  # 40 prompts through a child process, killed and rerun
def test_sigkill_mid_run_then_rerun_completes_exactly(tiny_model_dir: Path, tmp_path: Path) -> None:
    _kill_mid_run_then_rerun(tiny_model_dir, tmp_path, prompts=40, kill_after=6, max_new_tokens=48)


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_completes_exactly_on_the_real_model(smollm2_dir: Path, tmp_path: Path) -> None:
    empty = _kill_mid_run_then_rerun(smollm2_dir, tmp_path, prompts=12, kill_after=4, max_new_tokens=16)
    assert empty == 0  # a real model answers every question; an empty row would be a torn write
