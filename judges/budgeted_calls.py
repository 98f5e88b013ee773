"""The one budgeted LLM-call loop, shared by the LLM judges (evalkit.judges.executor) and the data recipes'
generator calls (evalkit.datarecipes.llm).

For each job it builds a request, reserves its estimated cost against the `--max-cost` budget, sends it
through the async OpenAI-compatible client (evalkit.judges.calls, which redacts the endpoint's secrets
from replies and errors), settles the budget with the priced cost, and re-asks while the parsed reply is
not valid (up to `max_retries` re-asks). A finished answer is handed to the caller's `on_answer` at once,
where the caller stores it (so a re-run's cache has it); then the progress bar moves.

A transport error drops the job (counted, never stored: the next run asks again); a refused budget
reservation drops it too (counted) and, with `stop_at_budget`, every job not yet started; an EvalkitError
(a lost endpoint, bad credentials) stops the run and is returned as `fatal` for the caller to raise once
its own storage is closed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from evalkit.core.errors import EvalkitError
from evalkit.judges.base import Message, Reply
from evalkit.judges.calls import ChatCaller, PromptTooLong, TransportError
from evalkit.judges.pricing import Budget, PriceTable

J = TypeVar("J")  # a caller's job (a judge item, a data-recipe call)
P = TypeVar("P")  # what the caller parses a reply into

# (messages, the reply's max_tokens) -> None when the prompt fits the model's context, else what does
# not fit ("1210 prompt tokens + 512 max_tokens > 1024"). A local judge counts with its own tokenizer.
PromptCheck = Callable[[Sequence[Message], int], "str | None"]


@dataclass(frozen=True)
class Request:
    """What to send for one job: the chat messages, the request options and the reply's token limit."""

    messages: Sequence[Message]
    options: Mapping[str, Any]
    max_tokens: int


@dataclass
class Answer(Generic[P]):
    """A job's finished answer: the last reply parsed, every reply asked (re-asks included; none when
    the prompt was too long to send) and their summed known cost (None when no cost is known)."""

    parsed: P
    replies: list[Reply]
    cost: float | None


@dataclass
class CallStats:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    transport_errors: int = 0
    not_sent_budget: int = 0  # jobs dropped because the budget refused a request
    errors: list[str] = field(default_factory=list)
    budget_stopped: bool = False
    fatal: EvalkitError | None = None  # the first error that stopped the run; the caller raises it


class Progress:
    """A tqdm bar on stderr: answers done, requests/s, tokens and cost so far."""

    def __init__(self, total: int, enabled: bool, label: str, unit: str) -> None:
        from tqdm import tqdm

        self.began = time.perf_counter()
        self.bar = tqdm(total=total, desc=label, unit=unit, file=sys.stderr, disable=not enabled, dynamic_ncols=True)

    def update(self, stats: CallStats) -> None:
        elapsed = max(time.perf_counter() - self.began, 1e-9)
        self.bar.set_postfix_str(
            f"{stats.requests / elapsed:.1f} req/s, {stats.prompt_tokens + stats.completion_tokens} tok, ${stats.cost_usd:.4f}",
            refresh=False,
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def known_sum(costs: Sequence[float | None]) -> float | None:
    known = [c for c in costs if c is not None]
    return sum(known) if known else None


@dataclass
class BudgetedCalls(Generic[J, P]):
    """How one caller asks: the client, the priced model and budget, and its request/parse hooks.

    `parse(job, reply, request)` turns a reply into the caller's value, `valid(value)` says whether it
    is final (else re-asked, up to `max_retries` times). `too_long(detail)` is the value of a prompt that
    does not fit the model's context (checked before sending by `prompt_check`, or refused by the
    server); without it such a refusal is raised."""

    caller: ChatCaller
    model: str
    budget: Budget
    prices: PriceTable
    request: Callable[[J], Request]
    parse: Callable[[J, Reply, Request], P]
    valid: Callable[[P], bool]
    max_retries: int = 0
    too_long: Callable[[str], P] | None = None
    prompt_check: PromptCheck | None = None
    stats: CallStats = field(default_factory=CallStats)

    async def ask(self, job: J) -> Answer[P] | None:
        """Ask (and re-ask while not valid); None when the budget or a transport error drops the job."""
        stats = self.stats
        request = self.request(job)
        messages = request.messages
        if self.prompt_check is not None and self.too_long is not None:
            detail = self.prompt_check(messages, request.max_tokens)
            if detail is not None:
                return Answer(self.too_long(detail), [], 0.0)
        prompt_bytes = sum(len(m["content"].encode("utf-8")) for m in messages)
        options = dict(request.options)
        replies: list[Reply] = []
        costs: list[float | None] = []
        while True:
            estimate = self.budget.estimate(messages, request.max_tokens)
            if not self.budget.try_reserve(estimate):
                stats.budget_stopped = True
                stats.not_sent_budget += 1
                return None
            stats.requests += 1
            try:
                reply = await self.caller.complete(messages, options)
            except TransportError as exc:
                self.budget.settle(estimate, None)
                stats.transport_errors += 1
                stats.errors.append(str(exc))
                return None
            except PromptTooLong as exc:
                self.budget.settle(estimate, None)
                if self.too_long is None:
                    raise
                return Answer(self.too_long(str(exc)), replies, known_sum(costs))
            except BaseException:
                self.budget.settle(estimate, None)
                raise
            cost = self.prices.cost(self.model, reply.prompt_tokens, reply.completion_tokens)
            self.budget.settle(estimate, cost, prompt_bytes, reply.prompt_tokens)
            stats.prompt_tokens += reply.prompt_tokens or 0
            stats.completion_tokens += reply.completion_tokens or 0
            stats.cost_usd += cost or 0.0
            replies.append(reply)
            costs.append(cost)
            parsed = self.parse(job, reply, request)
            if self.valid(parsed) or len(replies) > self.max_retries:
                return Answer(parsed, replies, known_sum(costs))

    async def run(
        self,
        jobs: Sequence[J],
        on_answer: Callable[[J, Answer[P]], None],
        *,
        concurrency: int,
        progress: Progress,
        stop_at_budget: bool = False,
        halted: Callable[[], bool] = lambda: False,
    ) -> CallStats:
        """Ask every job, `concurrency` at a time; `on_answer` stores each answer as it arrives. A job
        not yet started is skipped once a fatal error, `halted()` or (with `stop_at_budget`) a refused
        budget says so. The client and the bar are closed on the way out; `stats.fatal` is for the
        caller to raise."""
        stats = self.stats
        semaphore = asyncio.Semaphore(max(1, concurrency))

        async def one(job: J) -> None:
            async with semaphore:
                if stats.fatal is not None or (stop_at_budget and stats.budget_stopped) or halted():
                    return
                try:
                    answer = await self.ask(job)
                except EvalkitError as exc:
                    if stats.fatal is None:
                        stats.fatal = exc
                    return
                if answer is None:
                    return
                on_answer(job, answer)
                progress.update(stats)

        try:
            await asyncio.gather(*(one(job) for job in jobs))
        finally:
            progress.close()
            await self.caller.close()
        return stats
