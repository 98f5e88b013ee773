"""Judging jobs against the scripted OpenAI-compatible server: both orders, cache, retries, budget."""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.core.records import DecodingParams, GenerationResult, ModelInfo, Prompt, PromptSet
from evalkit.judges.pairing import pair_items
from evalkit.judges.pricing import load_price_table
from evalkit.judges.registry import make_judge
from evalkit.judges.runner import RunOptions, as_generation_set, judge_pairs, judge_single, run_items
from evalkit.results.jobs import job_figures
from evalkit.results.tables import alpaca_table, likert_table, pairwise_table
from evalkit.stats.lima import likert_summary as lima_likert_summary
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, Garbage, Hang, HTTPError, last_user_message

SECRET = "sk-test-judge-secret-42"


def add_model(store: Any, name: str, answers: dict[str, str], references: dict[str, str] | None = None) -> int:
    """A model with one stored answer per question (the question is the prompt's only user turn)."""
    prompts = tuple(
        Prompt(id=str(i), messages=({"role": "user", "content": q},), reference=(references or {}).get(q))
        for i, q in enumerate(answers)
    )
    store.save_prompt_set(PromptSet(f"set-{name}", prompts, source="test"))
    model_id = store.register_model(ModelInfo(name=name, fingerprint=content_hash([name, answers])))
    store.add_generations(
        model_id, DecodingParams(), "test", [GenerationResult(p.hash, 0, answers[p.instruction]) for p in prompts]
    )
    return model_id


def questions(n: int) -> list[str]:
    return [f"Question {i}?" for i in range(n)]


@pytest.fixture()
def server():
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def options(server: FakeOpenAIServer, **overrides: Any) -> RunOptions:
    return RunOptions(**{"base_url": server.base_url, "concurrency": 4, "timeout_s": 5.0, "http_retries": 2, **overrides})


def lima_responder(body: dict[str, Any]) -> Completion:
    """Per question i (from the shown prompt): i%5 0 = always "A" (position bias), 1 = prefers the
    model, 2 = prefers the baseline, 3 = Neither, 4 = nonsense."""
    content = last_user_message(body)
    i = int(re.search(r"Question (\d+)\?", content).group(1))
    model_first = content.index("model answer") < content.index("base answer")
    kind = i % 5
    if kind == 4:
        return Completion("I think both are lovely, really")
    if kind == 3:
        return Completion("Neither is significantly better.")
    first_wins = True if kind == 0 else model_first if kind == 1 else not model_first
    return Completion(f"Answer {'A' if first_wins else 'B'} is significantly better.")


def test_pairwise_both_orders_cache_and_invalid(store: Any, server: FakeOpenAIServer) -> None:
    n, max_retries = 15, 2
    model = add_model(store, "model", {q: f"model answer {i}" for i, q in enumerate(questions(n))})
    base = add_model(store, "base", {q: f"base answer {i}!" for i, q in enumerate(questions(n))})
    server.responder = lima_responder
    judge = make_judge("pairwise", judge_model="fake-judge")
    summary = judge_pairs(store, judge, model, base, options=options(server, max_retries=max_retries))
    invalid_pairs = sum(1 for i in range(n) if i % 5 == 4)
    expected_requests = 2 * (n - invalid_pairs) + 2 * invalid_pairs * (1 + max_retries)
    assert summary["requests"] == server.count == expected_requests
    expected = {f"Question {i}?": ["tie", "win", "loss", "tie", "invalid"][i % 5] for i in range(n)}
    table = pairwise_table(store)
    assert len(table) == n and dict(zip(table["instruction"], table["outcome"])) == expected
    position_biased = table[table["instruction"] == "Question 0?"].iloc[0]
    assert (position_biased["verdict_ab"], position_biased["verdict_ba"]) == ("win", "loss")
    assert table.set_index("instruction").loc["Question 1?", "preference"] == 2.0
    assert math.isnan(table.set_index("instruction").loc["Question 4?", "preference"])
    assert dict(zip(table["instruction"], table["model_len"])) == {f"Question {i}?": len(f"model answer {i}") for i in range(n)}
    assert dict(zip(table["instruction"], table["baseline_len"])) == {
        f"Question {i}?": len(f"base answer {i}!") for i in range(n)
    }
    assert (table["baseline"] == "base").all() and (table["model"] == "model").all()
    counts = Counter(expected.values())
    figures = job_figures(store, summary, as_generation_set(store, model), as_generation_set(store, base))
    assert (figures["n_wins"], figures["n_draws"], figures["n_wins_base"], figures["n_invalid"]) == (
        counts["win"],
        counts["tie"],
        counts["loss"],
        counts["invalid"],
    )
    stored = store.judgments("pairwise")
    nonsense = stored[~stored["valid"].astype(bool)]
    assert len(nonsense) == 2 * invalid_pairs and (nonsense["attempts"] == 1 + max_retries).all()
    assert (nonsense["raw"] == "I think both are lovely, really").all() and nonsense["verdict"].isna().all()

    again = judge_pairs(store, judge, model, base, options=options(server))
    assert again["requests"] == 0 and server.count == expected_requests and again["cached"] == 2 * n
    assert SECRET.encode() not in Path(store.engine.url.database).read_bytes()


def test_identical_answers_share_a_judgment_but_count_for_each_model(store: Any, server: FakeOpenAIServer) -> None:
    qs = questions(6)
    base = add_model(store, "base", {q: f"base answer {i}" for i, q in enumerate(qs)})
    first = add_model(store, "epoch-9", {q: f"model answer {i}" for i, q in enumerate(qs)})
    second = add_model(
        store, "epoch-10", {q: f"model answer {i}" if i < 4 else f"model answer {i} (v2)" for i, q in enumerate(qs)}
    )
    judge = make_judge("pairwise", judge_model="fake-judge")
    judge_pairs(store, judge, first, base, options=options(server))
    assert server.count == 12
    summary = judge_pairs(store, judge, second, base, options=options(server))
    assert summary["requests"] == 4 and summary["cached"] == 8
    assert job_figures(store, summary, as_generation_set(store, second), as_generation_set(store, base))["n"] == 6
    table = pairwise_table(store)
    assert table.groupby("model").size().to_dict() == {"epoch-10": 6, "epoch-9": 6}

    # one job over several models (as `evalkit run` may do): a shared judgment is asked once, used by both
    later = [add_model(store, f"epoch-{e}", {q: f"late answer {i}" for i, q in enumerate(qs)}) for e in (11, 12)]
    items = [
        item
        for model in later
        for item in pair_items(store, judge, "pairwise", as_generation_set(store, model), as_generation_set(store, base))[0]
    ]
    counters, cached = run_items(store, judge, items, options(server))
    assert counters.requests == 12 and cached == 0 and server.count == 16 + 12
    assert pairwise_table(store).groupby("model").size().to_dict() == {f"epoch-{e}": 6 for e in (9, 10, 11, 12)}


def test_transport_failures_retry_and_are_never_stored(store: Any, server: FakeOpenAIServer) -> None:
    model = add_model(store, "model", {"Question 0?": "model answer"})
    base = add_model(store, "base", {"Question 0?": "base answer"})
    judge = make_judge("pairwise", judge_model="fake-judge")
    server.script(HTTPError(429, retry_after=0.6), HTTPError(500))
    began = time.perf_counter()
    summary = judge_pairs(store, judge, model, base, options=options(server, concurrency=1, http_retries=3))
    assert time.perf_counter() - began >= 0.6  # Retry-After was honoured
    assert summary["stored"] == 2 and summary["errors"] == 0 and server.count == 4
    assert server.stats()["statuses"] == {"429": 1, "500": 1, "200": 2}

    likert = make_judge("likert", judge_model="fake-judge", temperature=0.7)
    server.reset()
    server.script(Hang(2.0), Garbage())
    failed = judge_single(store, likert, model, samples=2, options=options(server, concurrency=2, timeout_s=0.5, http_retries=0))
    assert failed["errors"] == 2 and failed["stored"] == 0 and len(store.judgments("likert")) == 0
    assert "timed out" in failed["first_error"] or "malformed" in failed["first_error"]
    server.reply_text = "fine\n4\n4"
    retried = judge_single(store, likert, model, samples=2, options=options(server))
    assert retried["requests"] == 2 and retried["stored"] == 2
    assert job_figures(store, retried, as_generation_set(store, model))["mean"] == 4.0


def test_budget_stops_before_overspending(store: Any, server: FakeOpenAIServer, tmp_path: Path) -> None:
    qs = questions(20)
    model = add_model(store, "model", {q: "model answer " * 20 for q in qs})
    (tmp_path / "prices.yaml").write_text("priced-judge: {input: 100, output: 200}\n")
    prices = load_price_table(tmp_path / "prices.yaml")
    judge = make_judge("likert", judge_model="priced-judge", max_tokens=20)
    server.reply_text = "ok\n5\n5"
    budget = 0.5
    summary = judge_single(store, judge, model, options=options(server, max_cost=budget, prices=prices, concurrency=2))
    summary = {**summary, **job_figures(store, summary, as_generation_set(store, model))}
    stored = store.judgments("likert")
    assert summary["budget_stopped"] and 0 < summary["stored"] < 20 and summary["requests"] == summary["stored"] == len(stored)
    assert stored["cost_usd"].sum() <= budget and summary["cost_usd"] == pytest.approx(stored["cost_usd"].sum())
    per_request = prices.cost("priced-judge", stored["prompt_tokens"].iloc[0], stored["completion_tokens"].iloc[0])
    assert stored["cost_usd"].iloc[0] == pytest.approx(per_request)
    rest = judge_single(store, judge, model, options=options(server, prices=prices))
    assert rest["requests"] == 20 - summary["stored"] and not rest["budget_stopped"]
    assert job_figures(store, rest, as_generation_set(store, model))["n"] == 20


def test_concurrency_is_bounded(store: Any) -> None:
    with FakeOpenAIServer(latency=0.05, reply_text="fine\n3\n3") as slow:
        model = add_model(store, "model", {q: "answer" for q in questions(12)})
        judge_single(
            store,
            make_judge("likert", judge_model="fake-judge", temperature=0.7),
            model,
            samples=2,
            options=options(slow, concurrency=3),
        )
        assert slow.count == 24 and slow.stats()["max_in_flight"] == 3


def test_likert_samples_mean_and_ci(store: Any, server: FakeOpenAIServer) -> None:
    qs = questions(8)
    model = add_model(store, "model", {q: f"answer {i}" for i, q in enumerate(qs)})
    seen: Counter[str] = Counter()
    counting = threading.Lock()  # the server's handler threads ask concurrently: each sample gets its own count

    def grades(body: dict[str, Any]) -> Completion:
        content = last_user_message(body)
        i = int(re.search(r"Question (\d+)\?", content).group(1))
        with counting:
            seen[content] += 1
            k = seen[content]
        if i == 7:
            return Completion("no idea")
        return Completion(f"reasoning\n{1 + (i + k) % 6}\n{1 + (i + k) % 6}")

    server.responder = grades
    summary = judge_single(
        store,
        make_judge("likert", judge_model="fake-judge", temperature=0.7),
        model,
        samples=3,
        options=options(server, max_retries=0),
    )
    summary = {**summary, **job_figures(store, summary, as_generation_set(store, model))}
    assert summary["requests"] == 24 and summary["n_invalid"] == 3
    table = likert_table(store)
    assert len(table) == 24 and table["score"].isna().sum() == 3 and set(table["sample"]) == {0, 1, 2}
    per_answer = np.array([np.mean([1 + (i + k) % 6 for k in (1, 2, 3)]) for i in range(7)])
    half_width = stats.t.ppf(0.975, len(per_answer) - 1) * per_answer.std(ddof=1) / np.sqrt(len(per_answer))
    assert summary["mean"] == pytest.approx(per_answer.mean())
    # The interval is evalkit.stats' bootstrap over prompts (checked against scipy in the stats tests);
    # with 7 answers it lands near the Student-t interval.
    # Clusters named as the summary names them (prompt hashes), so both number them alike.
    hash_of = dict(zip(table["instruction"], table["prompt_hash"]))
    bootstrap = lima_likert_summary(per_answer, clusters=np.array([hash_of[q] for q in qs[:7]], dtype=object))
    assert (summary["ci_low"], summary["ci_high"]) == pytest.approx((bootstrap["ci_low"], bootstrap["ci_high"]))
    assert abs(summary["ci_low"] - (per_answer.mean() - half_width)) < 0.5
    assert abs(summary["ci_high"] - (per_answer.mean() + half_width)) < 0.5
    assert summary["n_samples"] == 21 and sum(summary["distribution_pct"].values()) == pytest.approx(100)


def test_alpaca_eval_judge_preferences_and_win_rate(store: Any, server: FakeOpenAIServer) -> None:
    from tests.fixtures.fake_openai_server import varied_logprobs

    qs = questions(12)
    model = add_model(store, "model", {q: f"model answer {i}" for i, q in enumerate(qs)})
    base = add_model(store, "base", {q: (f"base answer {i}" if i else "model answer 0") for i, q in enumerate(qs)})
    server.responder = varied_logprobs
    judge = make_judge("alpaca_eval", judge_model="fake-judge")
    summary = judge_pairs(store, judge, model, base, options=options(server))
    summary = {**summary, **job_figures(store, summary, as_generation_set(store, model), as_generation_set(store, base))}
    assert summary["requests"] == 11  # identical answers (question 0) are 1.5 without asking, as in AlpacaEval
    assert all(body["max_tokens"] == 1 and body["top_logprobs"] == 5 for body in server.requests)
    table = alpaca_table(store).set_index("instruction")
    for body in server.requests:  # independent: P(first shown) from the server's own logprobs
        completion = varied_logprobs(body)
        p_first = math.exp(completion.top_logprobs["m"])
        user = body["messages"][-1]["content"]
        question = re.search(r"Question (\d+)\?", user).group(0)
        model_first = user.index("model answer") < user.index("base answer")
        assert table.loc[question, "preference"] == pytest.approx(1 + (p_first if model_first else 1 - p_first))
    assert table.loc["Question 0?", "preference"] == 1.5
    wins = (table["preference"] - 1) * 100
    assert summary["win_rate"] == pytest.approx(wins.mean())
    assert summary["standard_error"] == pytest.approx(wins.std(ddof=1) / np.sqrt(len(wins)))

    server.reset()
    server.responder = lambda body: Completion("M" if "Question 1?" in last_user_message(body) else "Sure!")
    other = add_model(store, "other", {q: f"other answer {i}" for i, q in enumerate(qs)})
    summary = judge_pairs(store, judge, other, base, options=options(server, max_retries=0))
    summary = {**summary, **job_figures(store, summary, as_generation_set(store, other), as_generation_set(store, base))}
    table = alpaca_table(store)
    mine = table[table["model"] == "other"].set_index("instruction")
    assert summary["n_invalid"] == 11 and mine["valid"].sum() == 1
    (order,) = judge.orders("Question 1?")
    assert mine.loc["Question 1?", "preference"] == (1.0 if order == "AB" else 2.0)  # "M" = second shown wins


def test_fatal_endpoint_errors_are_one_clear_line(store: Any, server: FakeOpenAIServer) -> None:
    from evalkit.generate.server import free_port

    model = add_model(store, "model", {"Question 0?": "answer"})
    judge = make_judge("likert", judge_model="fake-judge", temperature=0.7)
    server.responder = lambda body: HTTPError(401, message=f"Incorrect API key provided: {SECRET}")
    with pytest.raises(EvalkitError, match="rejected the API key") as rejected:
        judge_single(store, judge, model, options=options(server))
    assert SECRET not in str(rejected.value)
    with pytest.raises(EvalkitError, match="cannot reach"):
        judge_single(store, judge, model, options=RunOptions(base_url=f"http://127.0.0.1:{free_port()}/v1", http_retries=0))
    assert len(store.judgments()) == 0


def test_reference_judge_offline(store: Any) -> None:
    qs = questions(4)
    refs = {q: f"The reference answer to question {i} is forty two." for i, q in enumerate(qs)}
    model = add_model(store, "model", {q: f"The reference answer to question {i} is forty two!" for i, q in enumerate(qs)}, refs)
    base = add_model(store, "base", {q: "No clue." for q in qs}, refs)
    judge = make_judge("reference")
    summary = judge_pairs(store, judge, model, base)
    figures = job_figures(store, summary, as_generation_set(store, model), as_generation_set(store, base))
    assert summary["requests"] == 0 and figures["n_wins"] == 4 and "reference-overlap" in summary["label"]
    assert (pairwise_table(store, "reference")["outcome"] == "win").all()
    bands = judge_single(store, judge, model)
    assert (
        job_figures(store, bands, as_generation_set(store, model))["n"] == 4
        and (likert_table(store, "reference_likert")["score"] == 6.0).all()
    )
    assert judge_pairs(store, judge, model, base)["stored"] == 0  # cached
