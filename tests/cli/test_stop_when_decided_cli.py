"""`--stop-when-decided` on the command line: its settings refused as one line (exit 2) before any work,
and what `evalkit pick` prints of what stopping saved."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.commands.pick import decision_lines
from evalkit.cli.main import main
from evalkit.decision.stopping_record import stopping_record
from evalkit.store import Store
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, last_user_message
from tests.helpers import write_prompts

BAD = {
    "run alpha 0": (["run", "--checkpoint", "missing", "--stop-when-decided", "--alpha", "0"], "--alpha: must be in (0, 1)"),
    "run alpha 1.5": (["run", "--checkpoint", "missing", "--alpha", "1.5"], "--alpha: must be in (0, 1)"),
    "run alpha nan": (["run", "--checkpoint", "missing", "--alpha", "nan"], "--alpha: must be in (0, 1)"),
    "run alpha word": (["run", "--checkpoint", "missing", "--alpha", "high"], "--alpha: must be a number"),
    "run round size 0": (["run", "--checkpoint", "missing", "--round-size", "0"], "--round-size: must be at least 1"),
    "pick alpha 1": (["pick", "missing", "--stop-when-decided", "--alpha", "1"], "--alpha: must be in (0, 1)"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_stopping_settings_are_one_line(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALKIT_DB", raising=False)
    argv, expected = BAD[case]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) <= 2 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no store created


def decision(stopping: dict | None) -> dict:
    row = {"name": "epoch-5", "likert_mean": None, "win_rate": 60.0, "n_valid": 50, "tied_with_best": False}
    record = {"chosen": "epoch-5", "epoch": 5, "reason": "highest win rate", "evidence": [row], "decided": True}
    return {**record, "stopping": stopping} if stopping is not None else record


def test_pick_prints_decided_after_and_the_saving_only_when_something_stopped() -> None:
    assert not any("decided after" in line or "saved" in line for line in decision_lines(decision(None)))
    record = stopping_record(50, [("epoch-5", 50, 100), ("epoch-6", 10, 20)], None)
    assert record is not None
    lines = decision_lines(decision(asdict(record)))
    assert "epoch-6  decided after 10 of 50 prompts" in lines[-2]
    assert lines[-1] == "stopping when decided saved 80 of 200 judgments (40.0%)"


ANSWERS = re.compile(r"Answer A:\n(.*)\n\nAnswer B:\n(.*)\n\nComparing", re.DOTALL)


def ranking_responder(db_url: str, ranks: dict[str, int]) -> Any:
    """A judge preferring answers by the rank of the model that wrote them (read from the store)."""

    def respond(body: dict[str, Any]) -> Completion:
        generations = Store(db_url).generations()
        rank_of = {text: ranks.get(name.split("/")[-1], 0) for text, name in zip(generations["text"], generations["model_name"])}
        match = ANSWERS.search(last_user_message(body))
        assert match is not None
        first, second = (rank_of.get(text, 0) for text in match.groups())
        if first == second:
            return Completion("Neither is significantly better.")
        return Completion(f"Answer {'A' if first > second else 'B'} is significantly better.")

    return respond


@pytest.mark.slow
def test_run_and_pick_stop_judging_a_clearly_worse_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from evalkit.models.tiny import DEFAULT_CORPUS, build_tiny_model

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    run_dir, prompts, count = tmp_path / "run", write_prompts(tmp_path / "p.jsonl", 30), 30
    for epoch in (1, 2):
        build_tiny_model(run_dir / f"epoch-{epoch}", DEFAULT_CORPUS * 20, seed=epoch)
    instructions = [json.loads(line)["prompt"] for line in prompts.read_text().splitlines()]
    base = tmp_path / "base.json"
    base.write_text(
        json.dumps([{"instruction": q, "output": f"baseline {i}", "generator": "base"} for i, q in enumerate(instructions)])
    )
    db = f"sqlite:///{tmp_path / 'evalkit.db'}"
    common = [
        "--prompts",
        str(prompts),
        "--baseline",
        str(base),
        "--db",
        db,
        "--max-new-tokens",
        "6",
        "--backend",
        "transformers",
    ]
    judge = ["--judges", "pairwise", "--judge-model", "fake-judge", "--stop-when-decided", "--round-size", "10"]
    with FakeOpenAIServer(ranking_responder(db, {"epoch-1": 3, "base": 2, "epoch-2": 1})) as server:
        judge += ["--judge-base-url", server.base_url]
        assert main(["run", "--checkpoint", str(run_dir), "--epochs", "1-2", *common, *judge]) == 0
        out = capsys.readouterr().out
        assert "stopped judging run/epoch-2: decided below the best; judged on 10 of 30 prompts" in out
        asked = len(server.requests)
        assert asked == 2 * (10 + 10)  # both orders, one round each: then epoch-2 is decided and epoch-1 has no rival
        assert main(["pick", str(run_dir), "--window", "1-2", *common, *judge, "--json"]) == 0
        record = json.loads(capsys.readouterr().out)
        assert len(server.requests) == asked  # the pick replays the stored rounds: nothing asked again
    assert record["chosen"] == "epoch-1"
    stopping = record["stopping"]
    assert stopping["prompts"] == count and {row["name"]: row["judged"] for row in stopping["checkpoints"]} == {
        "epoch-1": 10,
        "epoch-2": 10,
    }
    assert stopping["judgments_total"] == 2 * 2 * count and stopping["judgments_saved"] == 2 * 2 * count - asked
    assert stopping["cost_saved_usd"] is None


def test_the_python_api_refuses_the_same_settings_before_any_work(tmp_path: Path) -> None:
    import evalkit
    from evalkit.core.errors import EvalkitError

    db = f"sqlite:///{tmp_path / 'evalkit.db'}"
    with pytest.raises(EvalkitError, match="alpha must be in"):
        evalkit.run(tmp_path / "missing", stop_when_decided=True, alpha=1.5, db=db)
    with pytest.raises(EvalkitError, match="round_size must be at least 1"):
        evalkit.pick(tmp_path / "missing", stop_when_decided=True, round_size=0, db=db)
    assert list(tmp_path.iterdir()) == []
