"""What a run tells about itself: the base model's answers stored under other decoding settings are
announced before they are regenerated (as every epoch's are), and a run that ended without finishing
(interrupted, failed, SIGKILLed) is never shown as running forever."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from evalkit.cli.main import main
from evalkit.store import Store
from evalkit.store import schema as t
from evalkit.store.provenance import start_run
from evalkit.store.run_states import KILLED, runs_with_states


def _runs(capsys: pytest.CaptureFixture[str], db: str) -> list[dict]:
    capsys.readouterr()
    assert main(["stats", "runs", "--db", db, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _training_output(tiny_model_dir: Path, root: Path) -> Path:
    """A training output whose epoch-1 is the base model's copy (one model in the store: same weights)."""
    shutil.copytree(tiny_model_dir, root / "epoch-1")
    (root / "train_run.json").write_text(json.dumps({"base_model": str(tiny_model_dir)}))
    return root


@pytest.mark.slow
def test_the_base_models_other_settings_are_announced_before_it_is_regenerated(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _training_output(tiny_model_dir, tmp_path / "ckpt")
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": f"Tip {i}?", "reference": f"Tip {i}."}) + "\n" for i in range(2))
    )
    db = f"sqlite:///{tmp_path / 'x.db'}"
    flags = ["--checkpoint", str(run_dir), "--epochs", "1", "--prompts", str(prompts), "--judges", "reference", "--db", db]
    assert main(["run", *flags, "--max-new-tokens", "3"]) == 0
    capsys.readouterr()
    assert main(["run", *flags, "--max-new-tokens", "4"]) == 0
    out, err = capsys.readouterr()
    # the run's table: no LC number from 2 pairs, and why (its variant named)
    assert "lc withheld for ckpt/epoch-1: only 2 judged pairs with lengths; the GLM needs at least 5" in out
    assert "lc: length-controlled win rate ± standard error (alpaca_eval GLM, length_controlled_minimal)" in out
    note = err.index("ckpt/base: 2 answers stored under max_new_tokens=3; generating under max_new_tokens=4")
    assert note < err.index("ckpt/base:   0%")  # said before the base model is regenerated
    assert [run["status"] for run in _runs(capsys, db)] == ["finished", "finished"]


@pytest.mark.parametrize(("raised", "status"), [(KeyboardInterrupt, "interrupted"), (RuntimeError, "failed")])
def test_an_interrupted_or_failed_run_is_recorded_as_ended(
    raised: type[BaseException], status: str, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Ctrl-C (and SIGTERM, which the CLI raises as an interrupt) or an error mid-run: the run's record
    says how it ended, and when."""
    import evalkit.jobs.evaluation as run_module

    def stop(*args: object, **kwargs: object) -> None:
        raise raised()

    monkeypatch.setattr(run_module, "resolve_baseline", stop)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    config = run_module.RunConfig(judges=("reference",), baseline="references.json", progress=False)
    with pytest.raises(raised):
        run_module.run_evaluation(Store(db), str(tiny_model_dir), config)
    (run,) = _runs(capsys, db)
    assert run["status"] == status and run["finished_at"] is not None
    assert run["recorded_status"] == status


def test_a_sigkilled_run_is_not_shown_running_forever(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, sys\n"
            "from evalkit.store import Store\nfrom evalkit.store.provenance import start_run\n"
            "start_run(Store(sys.argv[1]), 'run', {})\nos.kill(os.getpid(), signal.SIGKILL)\n",
            db,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = Store(db)
    live = start_run(store, "pick", {})  # this process: still running
    elsewhere = start_run(store, "run", {})
    with store.engine.begin() as conn:
        conn.execute(update(t.run_processes).where(t.run_processes.c.run_id == elsewhere).values(host="another-host"))
    runs = {run["id"]: run for run in _runs(capsys, db)}
    assert runs[1]["status"] == KILLED and runs[1]["recorded_status"] == "running"
    assert runs[live]["status"] == "running"
    assert runs[elsewhere]["status"] == "running (on another-host, unverified)"
    capsys.readouterr()
    assert main(["stats", "runs", "--db", db]) == 0
    assert KILLED in capsys.readouterr().out
    assert len(runs_with_states(Store(db, read_only=True))) == 3
