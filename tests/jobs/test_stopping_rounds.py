"""`--stop-when-decided` in the loop: rounds over a seeded order, stops, budget stops and re-runs that
continue, and the pick's record of what was saved (a hand-built store and a fake judge endpoint)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evalkit.core.hashing import content_hash
from evalkit.core.records import DecodingParams, GenerationResult, GenerationSetKey, ModelInfo, Prompt, PromptSet
from evalkit.decision.stopping import seeded_order
from evalkit.decision.stopping_settings import StoppingSettings
from evalkit.generate.checkpoint import Checkpoint
from evalkit.jobs.evaluation import CheckpointOutcome, RunConfig, RunReport, _budget_left, headline_judge
from evalkit.jobs.stopping import judge_in_rounds, pick_stopping
from evalkit.judges.pricing import load_price_table
from evalkit.judges.registry import make_judge
from evalkit.judges.runner import RunOptions, judge_pairs
from evalkit.results.summary import select
from evalkit.results.tables import read_tables
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, last_user_message

PROMPTS = 60
DECODING = DecodingParams()


def quality_responder(body: dict[str, Any]) -> Completion:
    """Prefers the answer with the higher "quality N" (both shown orders agree); equal: Neither."""
    first, second = (int(q) for q in re.findall(r"quality (\d)", last_user_message(body))[:2])
    if first == second:
        return Completion("Neither is significantly better.")
    return Completion(f"Answer {'A' if first > second else 'B'} is significantly better.")


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(quality_responder) as fake:
        yield fake


def prompt_set() -> PromptSet:
    return PromptSet(
        "stop-set",
        tuple(Prompt(id=str(i), messages=({"role": "user", "content": f"Question {i}?"},)) for i in range(PROMPTS)),
        source="test",
    )


def add_model(store: Any, name: str, quality: list[int]) -> GenerationSetKey:
    prompts = prompt_set()
    store.save_prompt_set(prompts)
    model_id = store.register_model(ModelInfo(name=name, fingerprint=content_hash([name, quality])))
    answers = [GenerationResult(p.hash, 0, f"{name} says quality {q}") for p, q in zip(prompts.prompts, quality, strict=True)]
    store.add_generations(model_id, DECODING, "test", answers)
    return GenerationSetKey(model_id, DECODING.hash)


def checkpoints(store: Any) -> tuple[list[CheckpointOutcome], GenerationSetKey]:
    """epoch-1 wins every prompt, epoch-2 loses every one, epoch-3 wins or loses by prompt (the baseline is 5)."""
    baseline = add_model(store, "base", [5] * PROMPTS)
    qualities = {1: [9] * PROMPTS, 2: [1] * PROMPTS, 3: [9 if i % 2 else 1 for i in range(PROMPTS)]}
    outcomes = []
    for epoch, quality in qualities.items():
        key = add_model(store, f"epoch-{epoch}", quality)
        outcomes.append(CheckpointOutcome(Checkpoint(path=Path(f"epoch-{epoch}"), name=f"run/epoch-{epoch}"), key[0], key[1]))
    return outcomes, baseline


def judge_with(store: Any, server: FakeOpenAIServer, baseline: GenerationSetKey, **options: Any) -> Any:
    judge = make_judge("pairwise", judge_model="priced-judge")
    run_options = RunOptions(base_url=server.base_url, concurrency=4, timeout_s=5.0, http_retries=1, **options)

    def prefix(outcome: CheckpointOutcome, prompts: set[str]) -> list[dict[str, Any]]:
        assert outcome.generation_set is not None
        return [judge_pairs(store, judge, outcome.generation_set, baseline, prompt_hashes=prompts, options=run_options)]

    return judge, prefix


def test_seeded_order_is_fixed_by_seed_and_prompts() -> None:
    hashes = [p.hash for p in prompt_set().prompts]
    assert seeded_order(hashes, 0) == seeded_order(list(reversed(hashes)), 0)
    assert seeded_order(hashes, 0) != seeded_order(hashes, 1) and sorted(seeded_order(hashes, 1)) == sorted(hashes)


def test_a_clearly_worse_checkpoint_stops_early_and_the_best_is_not_stopped(store: Any, server: FakeOpenAIServer) -> None:
    outcomes, baseline = checkpoints(store)
    judge, prefix = judge_with(store, server, baseline)
    headline = headline_judge([judge], True)
    assert headline is not None
    hashes = [p.hash for p in prompt_set().prompts]
    stops = judge_in_rounds(store, outcomes, hashes, headline, baseline, StoppingSettings(round_size=10), 0, prefix, False)
    stopped = {stop.checkpoint: stop for stop in stops}
    assert set(stopped) == {"run/epoch-1", "run/epoch-2", "run/epoch-3"}
    assert stopped["run/epoch-2"].reason == "decided below the best" and stopped["run/epoch-2"].judged < PROMPTS
    assert stopped["run/epoch-1"].reason.startswith("best")
    asked = len(server.requests)
    assert asked == 2 * sum(stop.judged for stop in stops) < 2 * 3 * PROMPTS  # both orders per judged prompt
    # the judged prompts are the seeded order's prefix
    judged = set(store.judgments("pairwise")["prompt_hash"])
    assert judged == set(seeded_order(hashes, 0)[: max(stop.judged for stop in stops)])
    # the same again: the same order and stops, and nothing asked twice
    again = judge_in_rounds(
        store, checkpoints_again(outcomes), hashes, headline, baseline, StoppingSettings(round_size=10), 0, prefix, False
    )
    assert again == stops and len(server.requests) == asked

    report = RunReport(prompt_set(), baseline, "base", [judge], outcomes, run_id=0, stops=stops)
    tables = select(read_tables(store, instructions=False), report.scope())
    frame = pd.DataFrame({"model_id": [o.model_id for o in outcomes], "name": [o.checkpoint.path.name for o in outcomes]})
    record = pick_stopping(store, tables, report, frame, headline)
    assert record is not None and record.prompts == PROMPTS
    by_name = {row.name: row for row in record.checkpoints}
    assert by_name["epoch-2"].judged == stopped["run/epoch-2"].judged
    assert record.judgments_total == 2 * 3 * PROMPTS
    assert record.judgments_saved == record.judgments_total - asked and 0 < record.share_saved < 1
    assert record.cost_saved_usd is None  # the fake judge's replies carry no price: no cost stored


def checkpoints_again(outcomes: list[CheckpointOutcome]) -> list[CheckpointOutcome]:
    return [CheckpointOutcome(o.checkpoint, o.model_id, o.decoding_hash) for o in outcomes]


def test_a_budget_stop_ends_the_rounds_and_a_rerun_with_more_budget_continues(
    store: Any, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    (tmp_path / "prices.yaml").write_text("priced-judge: {input: 100, output: 200}\n")
    prices = load_price_table(tmp_path / "prices.yaml")
    outcomes, baseline = checkpoints(store)
    hashes = [p.hash for p in prompt_set().prompts]
    settings = StoppingSettings(round_size=10)
    judge, poor = judge_with(store, server, baseline, max_cost=0.4, prices=prices)
    headline = headline_judge([judge], True)
    judge_in_rounds(store, outcomes, hashes, headline, baseline, settings, 0, poor, False)
    first = store.judgments("pairwise")
    assert any(job["budget_stopped"] for o in outcomes for job in o.jobs) and 0 < len(first) < 2 * 3 * PROMPTS
    _, rich = judge_with(store, server, baseline, max_cost=100.0, prices=prices)
    again = checkpoints_again(outcomes)
    stops = judge_in_rounds(store, again, hashes, headline, baseline, settings, 0, rich, False)
    second = store.judgments("pairwise")
    assert len(second) > len(first) and second["cache_key"].is_unique
    assert set(first["cache_key"]) <= set(second["cache_key"])
    assert len(server.requests) == len(second)  # nothing asked twice
    assert not any(job["budget_stopped"] for o in again for job in o.jobs)
    assert {stop.checkpoint for stop in stops} == {"run/epoch-1", "run/epoch-2", "run/epoch-3"}
    assert second["cost_usd"].sum() > 0


def test_each_round_gets_what_the_budget_has_left() -> None:
    config = RunConfig(judge_options={"max_cost": 1.0})
    outcome = CheckpointOutcome(Checkpoint(path=Path("epoch-1"), name="epoch-1"))
    assert _budget_left(config, outcome) is config
    outcome.jobs = [{"cost_usd": 0.25}, {"cost_usd": 0.75}]
    assert _budget_left(config, outcome).judge_options["max_cost"] == 0.25
    outcome.jobs = [{"cost_usd": 1.5}]
    assert _budget_left(config, outcome).judge_options["max_cost"] == 0.0
    outcome.jobs = [{"cost_usd": 0.25}]
    assert _budget_left(config, outcome).judge_options["max_cost"] == 0.75
    assert _budget_left(RunConfig(), outcome).judge_options.get("max_cost") is None
