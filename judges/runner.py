"""Judging jobs over the store: plan items, skip what is cached, ask for the rest, summarise.

    judge = make_judge("pairwise", judge_model="gpt-4o")
    summary = judge_pairs(store, judge, model_id, baseline_id, options=RunOptions(concurrency=32))
    summary = judge_single(make_judge("likert"), ...)   # samples=K grades each answer K times

A finished job re-run makes zero requests (every cache key is stored); a killed one resumes where it
stopped. Transport errors are never stored, so their items are asked again next time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from evalkit.errors import EvalkitError
from evalkit.judges.base import Judge, LLMJudge, OfflineJudge, Reply
from evalkit.judges.calls import ChatCaller, resolve_endpoint
from evalkit.judges.executor import Counters, execute, judgment_for
from evalkit.judges.pairing import Item, pair_items, single_items
from evalkit.judges.pricing import Budget, PriceTable, load_price_table
from evalkit.judges.results import alpaca_table, likert_table, pairwise_table
from evalkit.judges.summary import alpaca_summary, likert_summary, pairwise_summary
from evalkit.records import Judgment
from evalkit.settings import resolve

T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    """How to call the judge; none of it is part of any cache key."""

    base_url: str | None = None  # else EVALKIT_JUDGE_BASE_URL / OPENAI_BASE_URL / OpenAI
    concurrency: int = 16
    timeout_s: float = 120.0  # per request
    http_retries: int = 5  # the openai client's own retries (429/5xx/timeouts, Retry-After honoured)
    max_retries: int = 2  # re-asks of an unreadable reply before it is stored as invalid
    max_cost: float | None = None  # USD for this invocation
    prices: PriceTable | None = None  # else --prices / EVALKIT_PRICES / built-in table
    progress: bool = False


def _run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from code already inside an event loop (notebooks): then in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _offline_judgments(judge: OfflineJudge, items: Sequence[Item]) -> list[Judgment]:
    rows: list[Judgment] = []
    for item in items:
        computed = judge.judge_pair(item.texts) if item.generation_b is not None else judge.judge_one(item.texts)
        row = next(r for r in computed if r.order == item.order)
        rows.append(Judgment(
            cache_key=item.cache_key, judge_kind=row.judge_kind, judge_spec_hash=judge.spec_hash, judge_model=judge.judge_model,
            prompt_hash=item.prompt_hash, generation_a=item.generation_a, generation_b=item.generation_b, order=item.order,
            sample=item.sample, raw="", verdict=row.verdict, score=row.score, valid=row.valid, attempts=1, cost_usd=0.0,
            latency_s=0.0, extra=row.extra))
    return rows


async def _ask_judge(store: Any, judge: LLMJudge, items: Sequence[Item], options: RunOptions) -> Counters:
    endpoint = resolve_endpoint(options.base_url, timeout_s=options.timeout_s, http_retries=options.http_retries)
    prices = options.prices or load_price_table(resolve("prices", None, None))
    budget = Budget(options.max_cost, prices, judge.judge_model)
    caller = ChatCaller(endpoint, judge.judge_model)  # created inside the loop its connections belong to
    return await execute(store, judge, items, caller, concurrency=options.concurrency, max_retries=options.max_retries,
                         budget=budget, prices=prices, progress=options.progress)


def run_items(store: Any, judge: Judge, items: Sequence[Item], options: RunOptions) -> tuple[Counters, int]:
    """Judge the items not yet stored; return (this run's counters, number served from the cache)."""
    cached = store.stored_judgment_keys(dict.fromkeys(item.cache_key for item in items))
    store.add_judgment_uses([item.use for item in items if item.cache_key in cached])
    todo: list[Item] = []
    repeats: list[Item] = []  # same judgment asked for another pairing in this job: recorded once it exists
    asked: set[str] = set()
    for item in items:
        if item.cache_key not in cached:
            (repeats if item.cache_key in asked else todo).append(item)
            asked.add(item.cache_key)
    counters = Counters()
    if isinstance(judge, OfflineJudge):
        rows = _offline_judgments(judge, todo)
        counters.stored = store.add_judgments_with_uses(rows, [item.use for item in todo])
    elif todo:
        assert isinstance(judge, LLMJudge)
        shortcut = getattr(judge, "shortcut", None)
        decided = [(item, shortcut(item.texts)) for item in todo] if shortcut else []
        direct = [(item, verdict) for item, verdict in decided if verdict is not None]
        if direct:
            rows = [judgment_for(item, judge.judge_model, judge.spec_hash, verdict, [Reply(text="")], 0.0) for item, verdict in direct]
            store.add_judgments_with_uses(rows, [item.use for item, _ in direct])
            answered = {item.cache_key for item, _ in direct}
            todo = [item for item in todo if item.cache_key not in answered]
        if todo:
            counters = _run_coroutine(_ask_judge(store, judge, todo, options))
        counters.stored += len(direct)
    if repeats:
        stored_now = store.stored_judgment_keys({item.cache_key for item in repeats})
        store.add_judgment_uses([item.use for item in repeats if item.cache_key in stored_now])
    return counters, len(cached)


def _job_summary(judge: Judge, items: Sequence[Item], counters: Counters, cached: int, began: float, missing: int) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "judge": judge.kind, "label": judge.label, "judge_model": judge.judge_model, "spec_hash": judge.spec_hash[:12],
        "items": len(items), "cached": cached, "requests": counters.requests, "stored": counters.stored,
        "errors": len(counters.errors), "prompt_tokens": counters.prompt_tokens,
        "completion_tokens": counters.completion_tokens, "cost_usd": counters.cost_usd,
        "budget_stopped": counters.budget_stopped, "wall_s": round(time.perf_counter() - began, 3),
    }
    if counters.errors:
        summary["first_error"] = counters.errors[0]
    if missing:
        summary["no_reference"] = missing
    return summary


def _in_scope(table: pd.DataFrame, judge: Judge, items: Sequence[Item], **ids: int) -> pd.DataFrame:
    hashes = {item.prompt_hash for item in items}
    mask = (table["judge_spec_hash"] == judge.spec_hash) & (table["judge_model"] == judge.judge_model)
    mask &= table["prompt_hash"].isin(hashes)
    for column, value in ids.items():
        mask &= table[column] == value
    return table[mask]


def judge_pairs(store: Any, judge: Judge, model_id: int, baseline_id: int, *, sample: int = 0,
                prompt_hashes: Collection[str] | None = None, options: RunOptions | None = None) -> dict[str, Any]:
    """Judge `model_id`'s answers against `baseline_id`'s on every prompt both answered (generation
    `sample`, default 0), optionally only `prompt_hashes`. Returns the job's counters and its
    results: wins/ties/losses/invalid (pairwise judges) or win_rate/standard_error (alpaca_eval)."""
    if judge.mode != "pairwise":
        raise EvalkitError(f"the {judge.kind} judge grades single answers; judge it without a baseline")
    began, options = time.perf_counter(), options or RunOptions()
    offline = isinstance(judge, OfflineJudge)
    items, missing = pair_items(store, judge, model_id, baseline_id, sample=sample, prompt_hashes=prompt_hashes, with_reference=offline)
    if offline and missing and not items:
        raise EvalkitError("no reference answers for these prompts; the reference judge needs a prompt set with references (--prompts)")
    counters, cached = run_items(store, judge, items, options)
    summary = _job_summary(judge, items, counters, cached, began, missing)
    if judge.kind == "alpaca_eval":
        table = _in_scope(alpaca_table(store, judge.kind), judge, items, model_id=model_id, baseline_id=baseline_id)
        summary.update(alpaca_summary(table))
    else:
        table = _in_scope(pairwise_table(store, judge.kind), judge, items, model_id=model_id, baseline_id=baseline_id)
        summary.update(pairwise_summary(table))
    return summary


def judge_single(store: Any, judge: Judge, model_id: int, *, samples: int = 1, sample: int = 0,
                 prompt_hashes: Collection[str] | None = None, options: RunOptions | None = None) -> dict[str, Any]:
    """Grade each of `model_id`'s answers `samples` times (likert, custom single judges, or the
    reference judge's overlap band). Returns the job's counters and mean / ci_low / ci_high / invalid."""
    offline = isinstance(judge, OfflineJudge)
    if judge.mode != "single" and not offline:
        raise EvalkitError(f"the {judge.kind} judge compares two answers; give it a baseline")
    if samples < 1:
        raise EvalkitError("--samples must be at least 1")
    began, options = time.perf_counter(), options or RunOptions()
    kind = getattr(judge, "single_kind", judge.kind)
    items, missing = single_items(store, judge, model_id, judge_kind=kind, samples=1 if offline else samples, sample=sample,
                                  prompt_hashes=prompt_hashes, with_reference=offline)
    if offline and missing and not items:
        raise EvalkitError("no reference answers for these prompts; the reference judge needs a prompt set with references (--prompts)")
    counters, cached = run_items(store, judge, items, options)
    summary = _job_summary(judge, items, counters, cached, began, missing)
    summary.update(likert_summary(_in_scope(likert_table(store, kind), judge, items, model_id=model_id)))
    return summary
