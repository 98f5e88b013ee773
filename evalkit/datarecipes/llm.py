"""LLM calls that generate training data (expand, lengthen, tag), with the judges' machinery:
the same async OpenAI-compatible client and error sorting (evalkit.judges.calls), the same `--max-cost`
budget and price table (evalkit.judges.pricing), and a store-backed cache.

Each finished call is committed at once (table data_generations, keyed by template hash + model +
inputs + sampling), so a SIGKILLed run loses only what was in flight and a re-run pays for nothing it
already has. Transport errors are counted and never cached: the next run asks again. A reply the
caller cannot parse is cached as invalid and kept out of the data, and counted.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from evalkit.datarecipes.store_tables import add_generation, cached_generations
from evalkit.errors import EvalkitError
from evalkit.hashing import content_hash
from evalkit.judges.templates import Template
from evalkit.store import Store

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
    calls: int = 0
    cached: int = 0
    requests: int = 0
    unparseable: int = 0
    transport_errors: int = 0
    not_sent_budget: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in vars(self).items() if k != "errors"} | {
            "errors": self.errors[:5]
        }


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
    if report.not_sent_budget or report.transport_errors:
        print(
            f"evalkit data {label}: {report.not_sent_budget} call(s) not sent (--max-cost reached), {report.transport_errors} "
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
    missing: list[tuple[str, Call]],
    parse: Callable[[str, Call], Any],
    settings: LLMSettings,
    label: str,
    replies: dict[str, str],
    report: CallReport,
) -> None:
    from tqdm import tqdm

    from evalkit.judges.calls import ChatCaller, TransportError, resolve_endpoint
    from evalkit.judges.pricing import Budget, load_price_table
    from evalkit.settings import resolve

    prices = load_price_table(resolve("prices", settings.prices, None))
    budget = Budget(settings.max_cost, prices, settings.model)
    try:
        endpoint = resolve_endpoint(settings.base_url, timeout_s=settings.timeout_s)
    except EvalkitError:  # its message names the judge's flag; this command's is --base-url
        raise EvalkitError(
            "no endpoint for the generator model: pass --base-url URL of an OpenAI-compatible server, or export OPENAI_API_KEY"
        ) from None
    caller = ChatCaller(endpoint, settings.model)
    semaphore = asyncio.Semaphore(max(1, settings.concurrency))
    bar = tqdm(total=len(missing), desc=label, unit="call", file=sys.stderr, disable=not settings.progress, dynamic_ncols=True)
    began = time.perf_counter()
    fatal: list[BaseException] = []

    async def one(key: str, call: Call) -> None:
        async with semaphore:
            if fatal:
                return
            messages = call.messages()
            estimate = budget.estimate(messages, settings.max_tokens)
            if not budget.try_reserve(estimate):
                report.not_sent_budget += 1
                return
            report.requests += 1
            try:
                reply = await caller.complete(messages, settings.sampling)
            except TransportError as exc:
                budget.settle(estimate, None)
                report.transport_errors += 1
                report.errors.append(str(exc))
                return
            except EvalkitError as exc:
                budget.settle(estimate, None)
                fatal.append(exc)
                return
            cost = prices.cost(settings.model, reply.prompt_tokens, reply.completion_tokens)
            budget.settle(estimate, cost, sum(len(m["content"].encode("utf-8")) for m in messages), reply.prompt_tokens)
            report.prompt_tokens += reply.prompt_tokens or 0
            report.completion_tokens += reply.completion_tokens or 0
            report.cost_usd += cost or 0.0
            add_generation(
                store,
                {
                    "cache_key": key,
                    "task": call.task,
                    "template_hash": call.template.hash,
                    "model": settings.model,
                    "raw": reply.text,
                    "valid": parse(reply.text, call) is not None,
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "cost_usd": cost,
                },
            )
            replies[key] = reply.text
            rate = report.requests / max(time.perf_counter() - began, 1e-9)
            bar.set_postfix_str(
                f"{rate:.1f} req/s, {report.prompt_tokens + report.completion_tokens} tok, ${report.cost_usd:.4f}", refresh=False
            )
            bar.update(1)

    try:
        await asyncio.gather(*(one(key, call) for key, call in missing))
    finally:
        bar.close()
        await caller.close()
    if fatal:
        raise fatal[0]
