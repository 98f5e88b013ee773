"""`evalkit run` with LLM judges on an OpenAI-compatible endpoint: the whole flow, and a re-run that
asks for nothing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from evalkit.core.ranges import parse_range
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, last_user_message
from tests.helpers import run_cli, write_prompts


def _judge(body: dict[str, Any]) -> Completion:
    """Pairwise: always prefers Answer A (position-biased on purpose); Likert: grades 4."""
    text = last_user_message(body)
    if "Answer A" in text:
        return Completion("Reasoning.\nAnswer A is significantly better.")
    return Completion("Step by step reasoning.\n4\n4")


@pytest.mark.slow
def test_run_with_pairwise_and_likert_judges_then_rerun_makes_no_request(tiny_model_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "ckpt"
    for epoch in parse_range("5-6"):
        shutil.copytree(tiny_model_dir, run_dir / f"epoch-{epoch}")
    prompts = write_prompts(tmp_path / "p.jsonl", 4)
    baseline = tmp_path / "baseline.json"
    rows = [json.loads(line) for line in prompts.read_text().splitlines()]
    baseline.write_text(
        json.dumps([{"instruction": r["prompt"], "output": "A careful baseline answer.", "generator": "base"} for r in rows])
    )
    db = f"sqlite:///{tmp_path / 'x.db'}"
    with FakeOpenAIServer(_judge) as server:
        args = [
            "run",
            "--checkpoint",
            str(run_dir),
            "--prompts",
            str(prompts),
            "--baseline",
            str(baseline),
            "--judges",
            "pairwise,likert",
            "--judge-base-url",
            server.base_url,
            "--judge-model",
            "fake-judge",
            "--greedy",
            "--max-new-tokens",
            "6",
            "--db",
            db,
            "--json",
        ]
        first = run_cli(*args, env={"OPENAI_API_KEY": "sk-secret-for-test"})
        assert first.returncode == 0, first.stderr
        # 2 checkpoints x 4 prompts: pairwise in both orders (16) + Likert once each (8), unless two
        # checkpoints gave identical answers (the judgment cache then serves both).
        requests_after_first = server.count
        assert 0 < requests_after_first <= 24
        table = {row["checkpoint"]: row for row in json.loads(first.stdout)}
        assert set(table) == {"ckpt/epoch-5", "ckpt/epoch-6"}
        for row in table.values():
            # A judge that always says "Answer A" flips with the order: every pair is a tie.
            assert row["tie%"] == pytest.approx(100.0) and row["win_rate"] == pytest.approx(50.0)
            assert row["likert"] == pytest.approx(4.0) and row["invalid"] == 0
        second = run_cli(*args, env={"OPENAI_API_KEY": "sk-secret-for-test"})
        assert second.returncode == 0, second.stderr
        assert server.count == requests_after_first
        assert json.loads(second.stdout) == json.loads(first.stdout)
    assert b"sk-secret-for-test" not in (tmp_path / "x.db").read_bytes()
    assert not re.search("sk-secret", first.stderr + second.stderr)


@pytest.mark.slow
def test_run_and_pick_with_the_alpaca_eval_judge(tiny_model_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "ckpt"
    for epoch in parse_range("5-6"):
        shutil.copytree(tiny_model_dir, run_dir / f"epoch-{epoch}")
    (run_dir / "epoch-6" / "config.json").write_text(
        (run_dir / "epoch-6" / "config.json").read_text().replace("{", '{"note": 6, ', 1)
    )
    prompts = write_prompts(tmp_path / "p.jsonl", 4)
    rows = [json.loads(line) for line in prompts.read_text().splitlines()]
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps([{"instruction": r["prompt"], "output": "Baseline.", "generator": "base"} for r in rows]))
    db = f"sqlite:///{tmp_path / 'x.db'}"
    # Default responder: the token "m" with top-5 logprobs, as AlpacaEval's weighted judge reads them.
    with FakeOpenAIServer() as server:
        common = [
            "--prompts",
            str(prompts),
            "--baseline",
            str(baseline),
            "--judges",
            "alpaca_eval",
            "--judge-base-url",
            server.base_url,
            "--judge-model",
            "fake-judge",
            "--greedy",
            "--max-new-tokens",
            "6",
            "--db",
            db,
            "--json",
        ]
        result = run_cli("run", "--checkpoint", str(run_dir), *common)
        assert result.returncode == 0, result.stderr
        table = json.loads(result.stdout)
        assert [row["judge"] for row in table] == ["alpaca_eval", "alpaca_eval"]
        assert all(0.0 <= row["win_rate"] <= 100.0 and row["invalid"] == 0 and row["n"] == 4 for row in table)
        picked = run_cli("pick", str(run_dir), "--window", "5-6", *common)
        assert picked.returncode == 0, picked.stderr
        decision = json.loads(picked.stdout)
        assert decision["judge"] == "alpaca_eval" and decision["chosen"] in ("epoch-5", "epoch-6")
