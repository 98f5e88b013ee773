"""Evaluation while training (`evalkit train --evaluate` / `--pick`, jobs/train_evaluation.py): every
landed epoch is evaluated by a background process, the pick afterwards repeats nothing, and a killed
evaluator loses nothing stored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.cli.main import main
from evalkit.core.records import DecodingParams
from evalkit.jobs.evaluation import RunConfig
from evalkit.jobs.train_evaluation import (
    CheckpointEvaluator,
    CheckpointJob,
    TrainingAhead,
    evaluate_one,
    offline_judge_notice,
    prepare_ahead,
    yield_to_training,
)
from evalkit.store import Store
from evalkit.store.run_states import runs_with_states
from tests.train_support import france_dialogs, write_jsonl

PROMPTS = 3
NEW_TOKENS = 8


def _prompts(tmp_path: Path) -> Path:
    rows = [{"id": f"q{i}", "prompt": f"What is the capital of France, take {i}?", "reference": "Paris."} for i in range(PROMPTS)]
    return write_jsonl(tmp_path / "prompts.jsonl", rows)


def _stored(db: str) -> tuple[int, int]:
    store = Store(db)
    return len(store.generations()), len(store.judgments())


def _answers_per_model(db: str) -> dict[str, int]:
    store = Store(db)
    names = store.models().set_index("id")["name"]
    return {str(names[model]): int(n) for model, n in store.generations().groupby("model_id").size().items()}


@pytest.fixture()
def no_judge_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "EVALKIT_JUDGE_MODEL", "EVALKIT_JUDGE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_evaluate_without_a_judge_says_it_uses_the_offline_judge(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], no_judge_endpoint: None
) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"messages": 5}])
    argv = ["train", "--data", str(bad), "--model", str(tiny_model_dir), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main([*argv, "--evaluate"]) == 2  # the data is refused; the notice came first, once
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "offline" in line] == [
        "evalkit: no judge configured (--judges, --judge-base-url or OPENAI_BASE_URL); "
        "evaluating with the offline reference-overlap judge"
    ]
    assert offline_judge_notice(RunConfig(judges=("reference",))) is None  # asked for by name: nothing to say
    assert main([*argv]) == 2 and "offline" not in capsys.readouterr().err  # no --evaluate: no notice


@pytest.mark.slow  # trains 5 tiny epochs and evaluates each in a child process
def test_every_epoch_is_evaluated_while_training_and_the_pick_repeats_nothing(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], no_judge_endpoint: None
) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    data = write_jsonl(tmp_path / "train.jsonl", france_dialogs(8))
    argv = [
        "train",
        "--data",
        str(data),
        "--model",
        str(tiny_model_dir),
        "--out",
        str(tmp_path / "ckpt"),
        "--epochs",
        "5",
        "--set",
        "batch_size=4",
        "--no-progress",
        "--prompts",
        str(_prompts(tmp_path)),
        "--max-new-tokens",
        str(NEW_TOKENS),
        "--db",
        db,
    ]
    assert main([*argv, "--evaluate", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["evaluated"] == [{"checkpoint": f"ckpt/epoch-{e}", "error": None} for e in range(1, 6)]
    answers = _answers_per_model(db)
    assert answers == {"ckpt/base": PROMPTS, **{f"ckpt/epoch-{e}": PROMPTS for e in range(1, 6)}}
    before = _stored(db)

    run = ["run", "--checkpoint", str(tmp_path / "ckpt"), "--epochs", "1-5", *argv[argv.index("--prompts") :], "--json"]
    assert main(run) == 0  # every epoch judged on every prompt, and `run` finds it all stored
    table = json.loads(capsys.readouterr().out)
    assert [(row["checkpoint"], row["n"]) for row in table] == [(f"ckpt/epoch-{e}", PROMPTS) for e in range(1, 6)]
    assert _stored(db) == before

    assert main([*argv, "--pick"]) == 0  # already trained: the re-run and the pick find everything stored
    assert "already trained" in capsys.readouterr().out
    assert _stored(db) == before  # no new answer, no new judgment
    assert json.loads((tmp_path / "ckpt" / "picked.json").read_text())["chosen"] == "epoch-5"  # the window: 5-10


@pytest.mark.slow  # trains two tiny epochs, then evaluates them in a child process, twice
def test_a_killed_evaluator_loses_nothing_and_the_next_one_resumes(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = tmp_path / "ckpt"
    data = write_jsonl(tmp_path / "train.jsonl", france_dialogs(8))
    assert (
        main(["train", "--data", str(data), "--model", str(tiny_model_dir), "--out", str(run), "--epochs", "2", "--no-progress"])
        == 0
    )
    db = f"sqlite:///{tmp_path / 'k.db'}"
    config = RunConfig(prompts=str(_prompts(tmp_path)), judges=("reference",), decoding=DecodingParams(max_new_tokens=NEW_TOKENS))
    jobs = [CheckpointJob(str(run), (1,)), CheckpointJob(str(run), (2,))]

    killed = CheckpointEvaluator(config, db)
    for job in jobs:
        killed.submit(job)
    assert killed.process is not None and killed.process.pid is not None
    deadline = time.monotonic() + 90
    while not (tmp_path / "k.db").exists() or "ckpt/base" not in set(Store(db).models()["name"]):
        assert time.monotonic() < deadline, "the evaluator never started"
        time.sleep(0.2)
    os.kill(killed.process.pid, signal.SIGKILL)  # mid-evaluation: the base model's answers are being made
    outcomes = killed.finish(timeout=30)
    assert [o.label for o in outcomes] == ["ckpt/epoch-1", "ckpt/epoch-2"]
    assert any(o.error and "not evaluated" in o.error for o in outcomes)

    resumed = CheckpointEvaluator(config, db)
    for job in jobs:
        resumed.submit(job)
    assert [o.error for o in resumed.finish(timeout=120)] == [None, None]
    # every answer exactly once: what the killed child stored was kept, and nothing was made twice
    assert _answers_per_model(db) == {"ckpt/base": PROMPTS, "ckpt/epoch-1": PROMPTS, "ckpt/epoch-2": PROMPTS}


@pytest.mark.slow  # trains two tiny epochs
def test_shared_work_is_done_ahead_and_the_trainer_process_helps_once_training_is_over(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    run = tmp_path / "ckpt"
    db = f"sqlite:///{tmp_path / 'a.db'}"
    config = RunConfig(prompts=str(_prompts(tmp_path)), judges=("reference",), decoding=DecodingParams(max_new_tokens=NEW_TOKENS))
    prepare_ahead(db, TrainingAhead(str(run.resolve()), str(tiny_model_dir.resolve())), config)  # before training
    assert _answers_per_model(db) == {"ckpt/base": PROMPTS}  # the baseline's answers, before any epoch exists
    assert runs_with_states(Store(db)).empty  # shared work only: no run record
    data = write_jsonl(tmp_path / "train.jsonl", france_dialogs(8))
    argv = ["train", "--data", str(data), "--model", str(tiny_model_dir), "--out", str(run), "--epochs", "2", "--no-progress"]
    assert main(argv) == 0

    evaluator = CheckpointEvaluator(config, db)
    for epoch in (1, 2):
        evaluator.submit(CheckpointJob(str(run), (epoch,)))
    assert evaluator.process is not None and evaluator.process.pid is not None
    os.kill(evaluator.process.pid, signal.SIGKILL)  # still starting, it never reached the queue: this process does it all
    assert [o.error for o in evaluator.finish(timeout=30, helps=True)] == [None, None]
    # the runs found the base model prepared ahead as the one the training record names: no second base
    assert _answers_per_model(db) == {"ckpt/base": PROMPTS, "ckpt/epoch-1": PROMPTS, "ckpt/epoch-2": PROMPTS}
    assert len(Store(db).models()) == 3
    broken = evaluate_one(db, CheckpointJob(str(tmp_path / "missing"), (1,)), config)
    assert broken.error and "missing" in broken.error  # reported, not raised: the child goes on


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_the_evaluator_yields_to_training_only_once_it_trains() -> None:
    """Started at full priority (its imports and shared work overlap the trainer's imports), switched to
    SCHED_IDLE when training starts: a nice value alone slowed the tiny training 1.6x."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert os.sched_getscheduler(sleeper.pid) == os.SCHED_OTHER
        yield_to_training(sleeper.pid, niceness=10)
        assert os.sched_getscheduler(sleeper.pid) == os.SCHED_IDLE
    finally:
        sleeper.kill()
        sleeper.wait()
    yield_to_training(sleeper.pid, niceness=10)  # the process is gone: nothing to do, nothing raised
