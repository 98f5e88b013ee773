"""LLM calls that generate training data (expand, lengthen, tag), through the judges' budgeted call loop
(evalkit.judges.budgeted_calls): the same async OpenAI-compatible client and error sorting (evalkit.judges.calls),
the same `--max-cost` budget and price table (evalkit.judges.pricing), concurrency and progress. What is
the data recipes' own is here: the request from a filled template, and a store-backed cache.

Each finished call is committed at once (table data_generations, keyed by template hash + model +
inputs + sampling), so a SIGKILLed run loses only what was in flight and a re-run pays for nothing it
already has. Transport errors are counted and never cached: the next run asks again. A reply the
caller cannot parse is cached as invalid and kept out of the data, and counted.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.judges.budgeted_calls import Answer, BudgetedCalls, CallStats, Progress, Request
from evalkit.judges.templates import Template
from evalkit.store import Store
from evalkit.store.data_tables import add_generation, cached_generations

T = TypeVar("T")


@dataclass(frozen=True)
class LLMSettings:
    """How to call the generator model; only `model`, `temperature` and `max_tokens` change an answer."""

    model: str
    base_url: str | None = None
    temperature: float = 0.7
    max_tokens: int = 2048
    concurrency: int = 8
    max_cost: float | None = None
    prices: str | None = None  # YAML/JSON price table (else EVALKIT_PRICES / built-in)
    timeout_s: float = 120.0
    progress: bool = True

    @property
    def sampling(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class Call:
    """One request: a template filled with values. `variant` separates deliberate repeats of one prompt."""

    task: str
    template: Template
    values: dict[str, str]
    variant: int = 0

    def cache_key(self, settings: LLMSettings) -> str:
        return content_hash(
            {
                "task": self.task,
                "template": self.template.hash,
                "model": settings.model,
                "values": self.values,
                "variant": self.variant,
                "sampling": settings.sampling,
            }
        )

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.template.render(self.values)}]


@dataclass
class CallReport:
    """One stage's calls: how many, how many the cache answered, how many replies were unreadable, and
    the shared call loop's counts for the ones asked (requests, failures, budget, tokens, cost)."""

    calls: int = 0
    cached: int = 0
    unparseable: int = 0
    asked: CallStats = field(default_factory=CallStats)

    def as_dict(self) -> dict[str, Any]:
        asked = self.asked
        return {
            "calls": self.calls,
            "cached": self.cached,
            "requests": asked.requests,
            "unparseable": self.unparseable,
            "transport_errors": asked.transport_errors,
            "not_sent_budget": asked.not_sent_budget,
            "prompt_tokens": asked.prompt_tokens,
            "completion_tokens": asked.completion_tokens,
            "cost_usd": round(asked.cost_usd, 6),
            "errors": asked.errors[:5],
        }


Job = tuple[str, Call]  # (cache key, call)


@dataclass
class Outcome(Generic[T]):
    call: Call
    parsed: T | None  # None: unparseable, or not answered (transport error / budget)


def run_calls(
    store: Store, calls: Sequence[Call], parse: Callable[[str, Call], T | None], settings: LLMSettings, label: str
) -> tuple[list[Outcome[T]], CallReport]:
    """Answer every call (cache first), parsing each reply; outcomes are in the order of `calls`."""
    report = CallReport(calls=len(calls))
    keys = [call.cache_key(settings) for call in calls]
    cached = cached_generations(store, keys)
    replies: dict[str, str] = {key: row["raw"] for key, row in cached.items()}
    report.cached = sum(1 for key in keys if key in cached)
    missing = [(key, call) for key, call in dict(zip(keys, calls)).items() if key not in cached]
    if missing:
        asyncio.run(_ask_all(store, missing, parse, settings, label, replies, report))
    if report.asked.not_sent_budget or report.asked.transport_errors:
        print(
            f"evalkit data {label}: {report.asked.not_sent_budget} call(s) not sent (--max-cost reached), {report.asked.transport_errors} "
            "failed after retries; their rows are left as they were. Re-run to finish: answered calls are cached.",
            file=sys.stderr,
        )
    outcomes: list[Outcome[T]] = []
    for key, call in zip(keys, calls):
        parsed = parse(replies[key], call) if key in replies else None
        if key in replies and parsed is None:
            report.unparseable += 1
        outcomes.append(Outcome(call, parsed))
    return outcomes, report


async def _ask_all(
    store: Store,
    missing: list[Job],
    parse: Callable[[str, Call], Any],
    settings: LLMSettings,
    label: str,
    replies: dict[str, str],
    report: CallReport,
) -> None:
    from evalkit.core.settings import resolve
    from evalkit.judges.calls import ChatCaller, resolve_endpoint
    from evalkit.judges.pricing import Budget, load_price_table

    prices = load_price_table(resolve("prices", settings.prices, None))
    budget = Budget(settings.max_cost, prices, settings.model)
    try:
        endpoint = resolve_endpoint(settings.base_url, timeout_s=settings.timeout_s)
    except EvalkitError:  # its message names the judge's flag; this command's is --base-url
        raise EvalkitError(
            "no endpoint for the generator model: pass --base-url URL of an OpenAI-compatible server, or export OPENAI_API_KEY"
        ) from None
    calls: BudgetedCalls[Job, bool] = BudgetedCalls(
        ChatCaller(endpoint, settings.model),
        settings.model,
        budget,
        prices,
        request=lambda job: Request(job[1].messages(), settings.sampling, settings.max_tokens),
        parse=lambda job, reply, request: parse(reply.text, job[1]) is not None,
        valid=lambda _readable: True,  # an unreadable reply is cached as invalid, never re-asked
    )

    def store_answer(job: Job, answer: Answer[bool]) -> None:
        key, call = job
        reply = answer.replies[-1]
        add_generation(
            store,
            {
                "cache_key": key,
                "task": call.task,
                "template_hash": call.template.hash,
                "model": settings.model,
                "raw": reply.text,
                "valid": answer.parsed,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "cost_usd": answer.cost,
            },
        )
        replies[key] = reply.text

    stats = await calls.run(
        missing, store_answer, concurrency=settings.concurrency, progress=Progress(len(missing), settings.progress, label, "call")
    )
    report.asked = stats
    if stats.fatal is not None:
        raise stats.fatal
