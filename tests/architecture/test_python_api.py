"""The Python API (`evalkit.run`, `evalkit.pick`, `evalkit.judge`) gives the figures the command line
prints for the same inputs, and `import evalkit` stays cheap (the API loads on first use)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import evalkit
from evalkit.cli.main import main


@pytest.fixture(scope="module")
def training_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A training output with two epochs of different weights and its base model (train_run.json), and
    the first prompts of the dev set (with their reference answers): small enough for seconds on a CPU."""
    from evalkit.data import load_prompt_set
    from evalkit.models.tiny import DEFAULT_CORPUS, build_tiny_model

    root = tmp_path_factory.mktemp("api")
    run_dir = root / "run"
    base = build_tiny_model(root / "base", DEFAULT_CORPUS * 20, hidden_size=32, seed=0)
    for epoch in (2, 3):
        build_tiny_model(run_dir / f"epoch-{epoch}", DEFAULT_CORPUS * 20, hidden_size=32, seed=epoch)
    (run_dir / "train_run.json").write_text(json.dumps({"base_model": str(base)}))
    prompts = root / "prompts.jsonl"
    rows = [{"id": p.id, "messages": list(p.messages), "reference": p.reference} for p in load_prompt_set("dev").prompts[:4]]
    prompts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return run_dir, prompts


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("EVALKIT_BACKEND", "transformers")


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = main([*args, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_run_pick_and_judge_match_the_command_line(
    training_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, prompts = training_run
    api_db, cli_db = f"sqlite:///{tmp_path / 'api.db'}", f"sqlite:///{tmp_path / 'cli.db'}"
    decoding = evalkit.DecodingParams(max_new_tokens=8, greedy=True)
    common = ("--prompts", str(prompts), "--judges", "reference", "--max-new-tokens", "8", "--greedy")

    # each side generates and judges into its own store: equal figures are not one side reading the other's
    result = evalkit.run(
        run_dir, epochs=[2, 3], prompts=str(prompts), judges=("reference",), decoding=decoding, db=api_db, progress=False
    )
    printed = cli_json(capsys, "run", "--checkpoint", str(run_dir), "--epochs", "2-3", *common, "--db", cli_db)
    assert result.ok and result.failures == ()
    assert result.records() == printed
    assert [row.checkpoint for row in result.rows] == ["run/epoch-2", "run/epoch-3"]
    assert [row.win_rate for row in result.rows] == [row["win_rate"] for row in printed]
    assert all(row.win_rate is not None and row.n == 4 for row in result.rows)

    decision = evalkit.pick(run_dir, window=[2, 3], prompts=str(prompts), judges=("reference",), decoding=decoding, db=api_db)
    picked = cli_json(capsys, "pick", str(run_dir), "--window", "2-3", *common, "--db", cli_db)
    assert decision.as_dict() == picked
    assert decision.chosen in ("epoch-2", "epoch-3") and decision.judge == "reference"

    judged = evalkit.judge(
        model="run/epoch-3", baseline_model="run/base", judge="reference", prompts=str(prompts), db=api_db, progress=False
    )
    shown = cli_json(
        capsys, "judge", "--model", "run/epoch-3", "--baseline-model", "run/base", "--judge", "reference",
        "--prompts", str(prompts), "--db", cli_db, "--no-progress",
    )  # fmt: skip
    timing = "wall_s"  # how long the job took: the one field two runs of it need not share
    assert {k: v for k, v in judged.as_dict().items() if k != timing} == {k: v for k, v in shown.items() if k != timing}
    assert judged.win_rate == shown["win_rate"] == printed[1]["win_rate"]
    assert judged.cached == 8 and judged.stored == 0  # the run judged both orders of every pair already


def test_bad_input_is_refused_before_any_store_is_made(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    with pytest.raises(evalkit.EvalkitError, match="say what to judge"):
        evalkit.judge(judge="reference", db=f"sqlite:///{db}")
    with pytest.raises(evalkit.EvalkitError):
        evalkit.run(tmp_path / "missing", judges=("reference",), db=f"sqlite:///{db}")
    assert not db.exists()


def test_import_evalkit_is_cheap_and_lists_its_api() -> None:
    code = (
        "import sys, evalkit\n"
        "heavy = sorted(m for m in ('pandas', 'torch', 'sqlalchemy', 'transformers') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert {'run', 'pick', 'judge', 'generate_answers', 'demo'} <= set(evalkit.__all__)\n"
        "assert all(callable(getattr(evalkit, name)) for name in ('run', 'pick', 'judge', 'generate_answers', 'demo'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    for name in ("run", "pick", "judge", "generate_answers", "demo"):
        assert (getattr(evalkit, name).__doc__ or "").count("evalkit.") >= 1, name  # a short example
