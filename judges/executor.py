"""Send a job's uncached items to an LLM judge through the shared budgeted call loop (evalkit.judges.budgeted_calls:
bounded concurrency, re-asks of unreadable replies, budget stop, cost accounting, progress); what is the
judges' own is here: the request from the judge's template, the verdict parsing and storing each
judgment as soon as it arrives.

A single writer thread commits whatever answers are waiting as one transaction (group commit), so
answers reach the store within milliseconds — a SIGKILL loses at most what was in flight — without
a transaction per answer slowing a fast judge down.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evalkit.core.records import Judgment
from evalkit.core.vocabulary import EMPTY_REPLY, INVALID_REASON_KEY, PROMPT_TOO_LONG, REPLY_CUT_OFF, UNPARSEABLE_REPLY
from evalkit.judges.base import LLMJudge, Reply, Verdict
from evalkit.judges.budgeted_calls import Answer, BudgetedCalls, Progress, PromptCheck, Request
from evalkit.judges.calls import ChatCaller
from evalkit.judges.job_failures import lost_mid_job
from evalkit.judges.pairing import Item
from evalkit.judges.pricing import Budget, PriceTable

if TYPE_CHECKING:
    from evalkit.store import Store


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

    def __init__(self, store: Store) -> None:
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


async def execute(
    store: Store,
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
    """Judge every item through the shared budgeted call loop; each judgment goes to the store writer
    as soon as its verdict is final. The budget stops every item not yet started."""
    counters = Counters()
    writer = StoreWriter(store)
    calls: BudgetedCalls[Item, Verdict] = BudgetedCalls(
        caller,
        judge.judge_model,
        budget,
        prices,
        request=lambda item: Request(judge.messages(item.texts, item.order), judge.request_options(), judge.max_tokens),
        parse=lambda item, reply, request: with_reason(judge.parse(reply, item.order), reply, request.max_tokens),
        valid=lambda verdict: verdict.valid,
        max_retries=max_retries,
        too_long=too_long,
        prompt_check=prompt_check,
    )

    def store_answer(item: Item, answer: Answer[Verdict]) -> None:
        verdict = answer.parsed
        if not verdict.valid:
            counters.invalid += 1
            reason = str(verdict.extra.get(INVALID_REASON_KEY, UNPARSEABLE_REPLY))
            counters.invalid_reasons[reason] = counters.invalid_reasons.get(reason, 0) + 1
        writer.put(judgment_for(item, judge.judge_model, judge.spec_hash, verdict, answer.replies, answer.cost), item.use)

    try:
        stats = await calls.run(
            items,
            store_answer,
            concurrency=concurrency,
            progress=Progress(len(items), progress, judge.kind, "item"),
            stop_at_budget=True,
            halted=lambda: writer.error is not None,
        )
    finally:
        writer.close()
        counters.stored = writer.written
    counters.requests = stats.requests
    counters.prompt_tokens = stats.prompt_tokens
    counters.completion_tokens = stats.completion_tokens
    counters.cost_usd = stats.cost_usd
    counters.errors = stats.errors
    counters.budget_stopped = stats.budget_stopped
    if stats.fatal is not None:
        # every item's answer stored so far stays; an endpoint lost after some of them is exit 1, not 2
        raise lost_mid_job(stats.fatal, counters.stored)
    return counters
