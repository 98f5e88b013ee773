"""`evalkit judge-quality` running judges (the scripted OpenAI-compatible server, cached in the store)
and reading the store's own annotation batches (checked against `evalkit agreement`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.main import main
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer

DATA = Path(__file__).parents[1] / "fixtures" / "data" / "judge_quality"
SHOWN = re.compile(r"Answer A:\n(.*)\n\nAnswer B:\n(.*)\n\nComparing", re.DOTALL)


def _reply(body: dict[str, Any]) -> Completion:
    """Model "always-a" always picks the first shown answer; "longer" picks the longer answer (tie if equal)."""
    if body["model"] == "always-a":
        return Completion("Answer A is significantly better.")
    first, second = SHOWN.search(body["messages"][0]["content"]).groups()
    if len(first) == len(second):
        return Completion("Neither is significantly better.")
    return Completion(f"Answer {'A' if len(first) > len(second) else 'B'} is significantly better.")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["judge-quality", *args, "--json", "--resamples", "100"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.slow  # three judge jobs against a real HTTP server
def test_judges_run_on_the_pairs_cached_in_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    db = f"sqlite:///{tmp_path / 'jq.db'}"
    with FakeOpenAIServer(_reply) as server:
        args = [
            "--humans",
            str(DATA / "pandalm_humans.json"),
            "--judge",
            "pairwise@always-a",
            "--judge",
            "pairwise@longer",
            "--judge-base-url",
            server.base_url,
            "--db",
            db,
            "--concurrency",
            "4",
        ]
        out = _run(capsys, *args)
        assert server.count == 2 * 8 * 2  # two judges x 8 pairs x both orders
        judges = {entry["name"]: entry for entry in out["judges"]}
        always = judges["pairwise:always-a"]
        # "always A" disagrees with itself across orders: every pair a tie; humans' modes B A A tie A B A A
        assert always["position_consistency"] == 0.0 and always["prefer_first"] == 1.0
        assert always["human_agreement_tie_discounted"] == pytest.approx((7 * 0.5 + 1) / 8)
        assert always["prefer_longer"] is None  # no decisive verdict
        longer = judges["pairwise:longer"]
        # verdicts B tie tie B A B A tie (the longer answer; equal lengths: tie)
        assert longer["position_consistency"] == 1.0 and longer["prefer_first"] == 0.5 and longer["prefer_longer"] == 1.0
        assert longer["human_agreement_tie_discounted"] == pytest.approx((1 + 0.5 + 0.5 + 0.5 + 1 + 1 + 1 + 0.5) / 8)
        assert longer["n"] == 8 and longer["invalid"] == 0 and longer["seconds_per_1000"] > 0
        assert longer["judge_model"] == "longer" and len(longer["spec_hash"]) == 12 and longer["requests"] == 16
        again = _run(capsys, *args)
        assert server.count == 32  # everything came from the store's cache
        assert again["judges"] == [{**entry, "requests": 0} for entry in out["judges"]]
        sampled = _run(capsys, *args[:2], "--judge", "pairwise@longer", *args[6:], "--samples", "2")
        (entry,) = sampled["judges"]
        assert entry["samples"] == 2 and entry["self_consistency"] == 1.0 and entry["requests"] == 32


def test_only_pairwise_model_judges_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'jq.db'}"
    for judge in ("likert", "reference"):
        assert main(["judge-quality", "--humans", str(DATA / "pandalm_humans.json"), "--judge", judge, "--db", db]) == 2
        assert "runs pairwise judges" in capsys.readouterr().err


@pytest.mark.slow  # builds a small results store
def test_store_batches_agree_with_evalkit_agreement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.leaderboard_data import populate, simulate_annotators
    from evalkit.store import Store

    db = f"sqlite:///{tmp_path / 'store.db'}"
    data = populate(Store(db), runs=1, epochs=2, prompts=12)
    simulate_annotators(Store(db), data.checkpoints[1], data.baselines[0], items=10)
    out = _run(capsys, "--db", db)
    assert main(["agreement", "--db", db, "--json"]) == 0
    agreement = json.loads(capsys.readouterr().out)
    assert out["judges"], "the populated store has pairwise judges on the annotated pairs"
    for entry in out["judges"]:
        assert entry["human_agreement_tie_discounted"] == pytest.approx(agreement["vs_mode"][entry["name"]])
        assert entry["source"] == "store" and entry["judge_model"]
    humans = [agreement["vs_mode"][name] for name in ("ann", "bob", "cat")]
    assert out["humans"]["human_agreement_tie_discounted"] == pytest.approx(sum(humans) / 3)
    assert out["humans"]["prefer_longer"] is None or 0 <= out["humans"]["prefer_longer"] <= 1
