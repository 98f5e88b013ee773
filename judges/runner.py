"""Judging jobs over the store: plan items, skip what is cached, ask for the rest.

    judge = make_judge("pairwise", judge_model="gpt-4o")
    job = judge_pairs(store, judge, (model_id, decoding), (baseline_id, baseline_decoding), options=RunOptions(concurrency=32))
    job = judge_single(store, make_judge("likert"), (model_id, decoding), samples=5)

A generation set is (model id, decoding hash): a job judges exactly those answers. The returned job
report counts the work (items, cached, requests, cost); the figures come from the results layer
(evalkit.results.summary), which every surface reads. A finished job re-run makes zero requests
(every cache key is stored); a killed one resumes where it stopped. Transport errors are never
stored, so their items are asked again next time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from evalkit.core.errors import EvalkitError
from evalkit.core.records import Judgment
from evalkit.core.settings import resolve
from evalkit.judges.base import Judge, LLMJudge, OfflineJudge, Reply
from evalkit.judges.calls import ChatCaller, Endpoint, resolve_endpoint
from evalkit.judges.executor import Counters, execute, judgment_for
from evalkit.judges.job_failures import lost_mid_job
from evalkit.judges.pairing import Item, pair_items, single_items
from evalkit.judges.pricing import Budget, PriceTable, load_price_table
from evalkit.store.provenance import save_judge_specs

if TYPE_CHECKING:
    from evalkit.store import Store

if TYPE_CHECKING:
    from evalkit.judges.local import ServedJudge

GenerationSet = tuple[int, str]  # (model id, decoding hash)

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
    # A judge checkpoint served for this job (`--judge-checkpoint`): its endpoint replaces base_url,
    # its calls cost nothing, and each prompt is measured against its context before it is sent.
    served: ServedJudge | None = None


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
        rows.append(
            Judgment(
                cache_key=item.cache_key,
                judge_kind=row.judge_kind,
                judge_spec_hash=judge.spec_hash,
                judge_model=judge.judge_model,
                prompt_hash=item.prompt_hash,
                generation_a=item.generation_a,
                generation_b=item.generation_b,
                order=item.order,
                sample=item.sample,
                raw="",
                verdict=row.verdict,
                score=row.score,
                valid=row.valid,
                attempts=1,
                cost_usd=0.0,
                latency_s=0.0,
                extra=row.extra,
            )
        )
    return rows


async def _ask_judge(store: Store, judge: LLMJudge, items: Sequence[Item], options: RunOptions) -> Counters:
    served = options.served
    if served is None:
        endpoint = resolve_endpoint(options.base_url, timeout_s=options.timeout_s, http_retries=options.http_retries)
        prices = options.prices or load_price_table(resolve("prices", None, None))
        request_model, concurrency, prompt_check = judge.judge_model, options.concurrency, None
    else:
        if judge.judge_fingerprint != served.fingerprint:
            raise EvalkitError(f"the {judge.kind} judge was not built for the served judge checkpoint {served.checkpoint}")
        endpoint = Endpoint(served.base_url, "EMPTY", timeout_s=options.timeout_s, http_retries=options.http_retries)
        prices = PriceTable({judge.judge_model: (0.0, 0.0)})  # local: no price lookup, cost 0
        request_model, prompt_check = served.request_model, served.prompt_check
        concurrency = min(options.concurrency, served.max_concurrency or options.concurrency)
    budget = Budget(options.max_cost, prices, judge.judge_model)
    caller = ChatCaller(endpoint, request_model)  # created inside the loop its connections belong to
    return await execute(
        store,
        judge,
        items,
        caller,
        concurrency=concurrency,
        max_retries=options.max_retries,
        budget=budget,
        prices=prices,
        progress=options.progress,
        prompt_check=prompt_check,
    )


def run_items(store: Store, judge: Judge, items: Sequence[Item], options: RunOptions) -> tuple[Counters, int]:
    """Judge the items not yet stored; return (this run's counters, number served from the cache)."""
    save_judge_specs(store, judge.spec_rows())
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
        decided = [(item, judge.shortcut(item.texts)) for item in todo]
        direct = [(item, verdict) for item, verdict in decided if verdict is not None]
        if direct:
            rows = [
                judgment_for(item, judge.judge_model, judge.spec_hash, verdict, [Reply(text="")], 0.0) for item, verdict in direct
            ]
            store.add_judgments_with_uses(rows, [item.use for item, _ in direct])
            answered = {item.cache_key for item, _ in direct}
            todo = [item for item in todo if item.cache_key not in answered]
        if todo:
            try:
                counters = _run_coroutine(_ask_judge(store, judge, todo, options))
            except EvalkitError as exc:  # the verdicts known without asking are stored work too
                raise lost_mid_job(exc, len(direct)) from None
        counters.stored += len(direct)
    if repeats:
        stored_now = store.stored_judgment_keys({item.cache_key for item in repeats})
        store.add_judgment_uses([item.use for item in repeats if item.cache_key in stored_now])
    return counters, len(cached)


def _job_report(
    judge: Judge, judge_kind: str, items: Sequence[Item], counters: Counters, cached: int, began: float, missing: int
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "judge": judge_kind,
        "label": judge.label,
        "judge_model": judge.judge_model,
        "spec_hash": judge.spec_hash,
        "items": len(items),
        "cached": cached,
        "requests": counters.requests,
        "stored": counters.stored,
        "errors": len(counters.errors),
        "prompt_tokens": counters.prompt_tokens,
        "completion_tokens": counters.completion_tokens,
        "cost_usd": counters.cost_usd,
        "budget_stopped": counters.budget_stopped,
        "wall_s": round(time.perf_counter() - began, 3),
    }
    if counters.errors:
        report["first_error"] = counters.errors[0]
    if missing:
        report["no_reference"] = missing
    return report


def _no_references(judge: Judge, items: Sequence[Item], missing: int) -> None:
    if isinstance(judge, OfflineJudge) and missing and not items:
        raise EvalkitError(
            "no reference answers for these prompts; the reference judge needs a prompt set with references (--prompts)"
        )


def as_generation_set(store: Store, model: int | GenerationSet) -> GenerationSet:
    """A generation set as given, or a model id's only one (several: an error asking for the decoding)."""
    from evalkit.store.generation_sets import choose_decoding

    if isinstance(model, tuple):
        return model
    return (int(model), choose_decoding(store, int(model), f"model {model}"))


def judge_pairs(
    store: Store,
    judge: Judge,
    model: int | GenerationSet,
    baseline: int | GenerationSet,
    *,
    sample: int = 0,
    prompt_hashes: Collection[str] | None = None,
    options: RunOptions | None = None,
) -> dict[str, Any]:
    """Judge one generation set's answers against a baseline generation set's on every prompt both
    answered (generation `sample`, default 0), optionally only `prompt_hashes`. Returns the job report."""
    scorer = judge.scorer(compares=True)
    if scorer is None:
        raise EvalkitError(f"the {judge.kind} judge grades single answers; judge it without a baseline")
    began, options = time.perf_counter(), options or RunOptions()
    items, missing = pair_items(
        store,
        judge,
        scorer.kind,
        as_generation_set(store, model),
        as_generation_set(store, baseline),
        sample=sample,
        prompt_hashes=prompt_hashes,
        with_reference=isinstance(judge, OfflineJudge),
    )
    _no_references(judge, items, missing)
    counters, cached = run_items(store, judge, items, options)
    return _job_report(judge, scorer.kind, items, counters, cached, began, missing)


def judge_single(
    store: Store,
    judge: Judge,
    model: int | GenerationSet,
    *,
    samples: int = 1,
    sample: int = 0,
    prompt_hashes: Collection[str] | None = None,
    options: RunOptions | None = None,
) -> dict[str, Any]:
    """Grade each of a generation set's answers `samples` times (likert, custom single judges, or the
    reference judge's overlap band). Returns the job report."""
    scorer = judge.scorer(compares=False)
    if scorer is None:
        raise EvalkitError(f"the {judge.kind} judge compares two answers; give it a baseline")
    if samples < 1:
        raise EvalkitError("--samples must be at least 1")
    if samples > 1 and isinstance(judge, LLMJudge) and judge.temperature <= 0:
        raise EvalkitError(
            f"{samples} grades per answer at judge temperature {judge.temperature} would be copies of one grade; "
            "use a judge temperature above 0 (--judge-temperature, default 0.7 with several samples)"
        )
    offline = isinstance(judge, OfflineJudge)
    began, options = time.perf_counter(), options or RunOptions()
    # An offline judge is deterministic: a second sample would be a copy.
    items, missing = single_items(
        store,
        judge,
        scorer.kind,
        as_generation_set(store, model),
        samples=1 if offline else samples,
        sample=sample,
        prompt_hashes=prompt_hashes,
        with_reference=offline,
    )
    _no_references(judge, items, missing)
    counters, cached = run_items(store, judge, items, options)
    return _job_report(judge, scorer.kind, items, counters, cached, began, missing)
