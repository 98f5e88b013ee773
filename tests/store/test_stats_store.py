"""End to end through a real store: a pairwise judge (scripted OpenAI-compatible server) fills the
judgments, and `evalkit stats summary` / `evalkit agreement --db` read them back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evalkit.cli.main import main
from tests.fixtures.fake_openai_server import FakeOpenAIServer
from tests.judges.test_judge_runner import add_model, lima_responder, options, questions


@pytest.fixture()
def judged_store(store: Any, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """15 questions; per question i, i % 5: 0 = judge always picks the first shown answer, 1 = model
    wins, 2 = baseline wins, 3 = "Neither", 4 = unreadable reply."""
    from evalkit.judges.registry import make_judge
    from evalkit.judges.runner import judge_pairs

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-stats")
    model = add_model(store, "model", {q: f"model answer {i}" for i, q in enumerate(questions(15))})
    base = add_model(store, "base", {q: f"base answer {i}!" for i, q in enumerate(questions(15))})
    with FakeOpenAIServer() as server:
        server.responder = lima_responder
        judge_pairs(store, make_judge("pairwise", judge_model="fake-judge"), model, base, options=options(server, max_retries=0))
    return db_url


def test_summary_from_a_judged_store(judged_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "summary", "--db", judged_store, "--resamples", "500", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["pairwise"]
    assert len(rows) == 1
    row = rows[0]
    # 3 wins, 6 ties (3 "Neither" + 3 position-flipped), 3 losses, 3 invalid
    assert (row["model"], row["baseline"], row["n"], row["n_invalid"]) == ("model", "base", 12, 3)
    assert row["win_pct"] == pytest.approx(25) and row["tie_pct"] == pytest.approx(50) and row["loss_pct"] == pytest.approx(25)
    assert row["win_rate"] == pytest.approx(50) and row["n_draws"] == 6 and row["n_total"] == 12
    assert row["ci_low"] <= 50 <= row["ci_high"]


def test_judge_biases_from_a_judged_store(judged_store: str) -> None:
    from evalkit.results.agreement import judge_biases
    from evalkit.results.tables import pairwise_table
    from evalkit.store import Store

    (bias,) = judge_biases(pairwise_table(Store(judged_store)))
    assert bias["rater"] == "pairwise:fake-judge" and bias["n_both_orders"] == 12
    assert bias["position_consistency"] == pytest.approx(9 / 12)  # the always-"A" questions flip with the order
    # decisive shown verdicts: 6 always-first + 3 of 6 for each honest kind = 12 of 18 picked the first answer
    assert bias["first_position_rate"] == pytest.approx(12 / 18)


def test_agreement_without_human_labels_compares_the_judges(judged_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    # No human label yet: the judges are still listed, with their position consistency and length bias.
    assert main(["agreement", "--db", judged_store, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [row["rater"] for row in result["judges"]] == ["pairwise:fake-judge"] and result["judges"][0]["n_both_orders"] == 12
