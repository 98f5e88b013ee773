"""Send a job's uncached items to an LLM judge: bounded concurrency, re-asks of unreadable replies,
budget stop, and storage of each answer as soon as it arrives.

A single writer thread commits whatever answers are waiting as one transaction (group commit), so
answers reach the store within milliseconds — a SIGKILL loses at most what was in flight — without
a transaction per answer slowing a fast judge down.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.job_failures import lost_mid_job
from evalkit.judges.base import LLMJudge, Message, Reply, Verdict
from evalkit.judges.calls import ChatCaller, PromptTooLong, TransportError
from evalkit.judges.pairing import Item
from evalkit.judges.pricing import Budget, PriceTable
from evalkit.records import Judgment
from evalkit.vocabulary import EMPTY_REPLY, INVALID_REASON_KEY, PROMPT_TOO_LONG, REPLY_CUT_OFF, UNPARSEABLE_REPLY

# (messages, the reply's max_tokens) -> None when the prompt fits the judge's context, else what does
# not fit ("1210 prompt tokens + 512 max_tokens > 1024"). A local judge counts with its own tokenizer.
PromptCheck = Callable[[Sequence[Message], int], "str | None"]


@dataclass
class Counters:
    requests: int = 0
    stored: int = 0
    invalid: int = 0
    invalid_reasons: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)
    budget_stopped: bool = False


def judgment_for(
    item: Item, judge_model: str, spec_hash: str, verdict: Verdict, replies: Sequence[Reply], cost: float | None
) -> Judgment:
    """The stored row: the last reply's text, tokens and latency summed over re-asks."""
    last = replies[-1] if replies else Reply(text="")
    extra: dict[str, Any] = dict(verdict.extra)
    if len(replies) > 1:
        extra["earlier_raws"] = [reply.text for reply in replies[:-1]]
    if last.top_logprobs:
        extra["top_logprobs"] = [list(pair) for pair in last.top_logprobs]

    def total(name: str) -> int | None:
        values = [getattr(r, name) for r in replies if getattr(r, name) is not None]
        return sum(values) if values else None

    latencies = [r.latency_s for r in replies if r.latency_s is not None]
    return Judgment(
        cache_key=item.cache_key,
        judge_kind=item.judge_kind,
        judge_spec_hash=spec_hash,
        judge_model=judge_model,
        prompt_hash=item.prompt_hash,
        generation_a=item.generation_a,
        generation_b=item.generation_b,
        order=item.order,
        sample=item.sample,
        raw=last.text,
        verdict=verdict.verdict,
        score=verdict.score,
        valid=verdict.valid,
        attempts=max(1, len(replies)),
        prompt_tokens=total("prompt_tokens"),
        completion_tokens=total("completion_tokens"),
        cost_usd=cost,
        latency_s=sum(latencies) if latencies else None,
        extra=extra,
    )


class StoreWriter:
    """One thread owns the database writes; callers hand it (judgment, use) pairs without blocking."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.pending: queue.Queue = queue.Queue()
        self.error: BaseException | None = None
        self.written = 0
        self.thread = threading.Thread(target=self._loop, name="judgment-writer", daemon=True)
        self.thread.start()

    def put(self, judgment: Judgment, use: tuple[str, int, int | None]) -> None:
        self.pending.put((judgment, use))

    def _loop(self) -> None:
        finished = False
        while not finished:
            batch = [self.pending.get()]
            while True:
                try:
                    batch.append(self.pending.get_nowait())
                except queue.Empty:
                    break
            finished = any(entry is None for entry in batch)
            rows = [entry for entry in batch if entry is not None]
            if rows and self.error is None:
                try:
                    self.store.add_judgments_with_uses([j for j, _ in rows], [u for _, u in rows])
                    self.written += len(rows)
                except BaseException as exc:  # re-raised by close(); the rest of the job stops
                    self.error = exc

    def close(self) -> None:
        self.pending.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class Progress:
    """A tqdm bar on stderr: judgments done, requests/s, tokens and cost so far."""

    def __init__(self, total: int, enabled: bool, label: str) -> None:
        from tqdm import tqdm

        self.began = time.perf_counter()
        self.bar = tqdm(total=total, desc=label, unit="item", file=sys.stderr, disable=not enabled, dynamic_ncols=True)

    def update(self, counters: Counters) -> None:
        elapsed = max(time.perf_counter() - self.began, 1e-9)
        self.bar.set_postfix_str(
            f"{counters.requests / elapsed:.1f} req/s, {counters.prompt_tokens + counters.completion_tokens} tok, "
            f"${counters.cost_usd:.4f}",
            refresh=False,
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def too_long(detail: str) -> Verdict:
    """The invalid verdict of a judge prompt that does not fit the judge's context (never sent, or refused)."""
    return Verdict(valid=False, extra={INVALID_REASON_KEY: PROMPT_TOO_LONG, "detail": detail})


def with_reason(verdict: Verdict, reply: Reply, max_tokens: int) -> Verdict:
    """An invalid verdict with why it is invalid (kept when the parser said): an empty reply, a reply
    the judge stopped at its token limit (a 1-token judge always stops there: not a cut), else unparseable."""
    if verdict.valid or verdict.extra.get(INVALID_REASON_KEY):
        return verdict
    if not reply.text.strip():
        reason = EMPTY_REPLY
    elif reply.finish_reason == "length" and max_tokens > 1:
        reason = REPLY_CUT_OFF
    else:
        reason = UNPARSEABLE_REPLY
    return Verdict(valid=False, verdict=verdict.verdict, score=verdict.score, extra={**verdict.extra, INVALID_REASON_KEY: reason})


async def _ask(
    item: Item,
    judge: LLMJudge,
    caller: ChatCaller,
    budget: Budget,
    prices: PriceTable,
    max_retries: int,
    counters: Counters,
    prompt_check: PromptCheck | None = None,
) -> tuple[Verdict, list[Reply], float | None] | None:
    """Ask (and re-ask while unreadable); None when the budget or a transport error stops the item. A
    prompt longer than the judge's context is invalid without a request (or when the server refuses it)."""
    messages = judge.messages(item.texts, item.order)
    if prompt_check is not None:
        detail = prompt_check(messages, judge.max_tokens)
        if detail is not None:
            return too_long(detail), [], 0.0
    prompt_bytes = sum(len(m["content"].encode("utf-8")) for m in messages)
    options = judge.request_options()
    replies: list[Reply] = []
    costs: list[float | None] = []
    verdict: Verdict | None = None
    while verdict is None or (not verdict.valid and len(replies) <= max_retries):
        estimate = budget.estimate(messages, judge.max_tokens)
        if not budget.try_reserve(estimate):
            counters.budget_stopped = True
            return None
        counters.requests += 1
        try:
            reply = await caller.complete(messages, options)
        except TransportError as exc:
            budget.settle(estimate, None)
            counters.errors.append(str(exc))
            return None
        except PromptTooLong as exc:
            budget.settle(estimate, None)
            return too_long(str(exc)), replies, _known_sum(costs)
        except BaseException:
            budget.settle(estimate, None)
            raise
        cost = prices.cost(judge.judge_model, reply.prompt_tokens, reply.completion_tokens)
        budget.settle(estimate, cost, prompt_bytes, reply.prompt_tokens)
        counters.prompt_tokens += reply.prompt_tokens or 0
        counters.completion_tokens += reply.completion_tokens or 0
        counters.cost_usd += cost or 0.0
        replies.append(reply)
        costs.append(cost)
        verdict = with_reason(judge.parse(reply, item.order), reply, judge.max_tokens)
    return verdict, replies, _known_sum(costs)


def _known_sum(costs: Sequence[float | None]) -> float | None:
    known = [c for c in costs if c is not None]
    return sum(known) if known else None


async def execute(
    store: Any,
    judge: LLMJudge,
    items: Sequence[Item],
    caller: ChatCaller,
    *,
    concurrency: int,
    max_retries: int,
    budget: Budget,
    prices: PriceTable,
    progress: bool,
    prompt_check: PromptCheck | None = None,
) -> Counters:
    counters = Counters()
    writer = StoreWriter(store)
    bar = Progress(len(items), progress, judge.kind)
    semaphore = asyncio.Semaphore(max(1, concurrency))
    fatal: list[EvalkitError] = []

    async def one(item: Item) -> None:
        async with semaphore:
            if fatal or counters.budget_stopped or writer.error is not None:
                return
            try:
                outcome = await _ask(item, judge, caller, budget, prices, max_retries, counters, prompt_check)
            except EvalkitError as exc:
                fatal.append(exc)
                return
            if outcome is None:
                return
            verdict, replies, cost = outcome
            if not verdict.valid:
                counters.invalid += 1
                reason = str(verdict.extra.get(INVALID_REASON_KEY, UNPARSEABLE_REPLY))
                counters.invalid_reasons[reason] = counters.invalid_reasons.get(reason, 0) + 1
            writer.put(judgment_for(item, judge.judge_model, judge.spec_hash, verdict, replies, cost), item.use)
            bar.update(counters)

    try:
        await asyncio.gather(*(one(item) for item in items))
    finally:
        bar.close()
        await caller.close()
        writer.close()
        counters.stored = writer.written
    if fatal:
        # every item's answer stored so far stays; an endpoint lost after some of them is exit 1, not 2
        raise lost_mid_job(fatal[0], counters.stored)
    return counters
