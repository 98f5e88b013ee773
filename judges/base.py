"""What every judge is made of: the request it sends, the reply it gets, the verdict it parses.

LLM judges only build messages and parse replies; sending, caching, retrying and paying live in the
runner, so a new judge kind is a template plus a parse rule. The offline reference judge computes its
verdicts directly instead (see `OfflineJudge`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from evalkit.hashing import content_hash

Mode = Literal["pairwise", "single"]
Message = dict[str, str]

# "AB": the evaluated model's answer is shown first (Answer A); "BA": the baseline's is.
BOTH_ORDERS: tuple[str, ...] = ("AB", "BA")


@dataclass(frozen=True)
class Reply:
    """One chat completion, reduced to what parsing and accounting need."""

    text: str
    top_logprobs: tuple[tuple[str, float], ...] | None = None  # first generated token's alternatives
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class Verdict:
    """A parsed reply. `verdict` is in the shown order ("A"/"B"/"tie"); `score` is judge-specific
    (likert 1-6; alpaca_eval: 1 + P(evaluated model's answer is better))."""

    valid: bool
    verdict: str | None = None
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


INVALID = Verdict(valid=False)


@dataclass(frozen=True)
class SlotTexts:
    """The texts a judge sees for one item, with the evaluated model's answer first for pairwise judges."""

    instruction: str
    output: str
    baseline: str | None = None
    reference: str | None = None


class Judge(ABC):
    """Common identity of all judges: kind, mode, and a spec hash covering everything that changes verdicts."""

    kind: str
    mode: Mode
    label: str  # how summaries name it; the reference judge says it is a reference-overlap score
    judge_model: str

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """Everything that changes the answer (template hash, parse rule, sampling), for the spec hash."""

    @cached_property
    def spec_hash(self) -> str:
        """Computed once: a judge's configuration does not change after it is built."""
        return content_hash({"kind": self.kind, "mode": self.mode, **self.spec()})


class LLMJudge(Judge):
    """A judge that asks a chat model. Subclasses say what to send and how to read the reply."""

    max_tokens: int = 512
    temperature: float = 0.0
    top_logprobs: int | None = None  # ask for the first token's top-k logprobs (alpaca_eval)

    def orders(self, instruction: str) -> tuple[str, ...]:
        """Shown orders for one pair; LIMA's judge sees both, AlpacaEval's one chosen per instruction."""
        return BOTH_ORDERS

    @abstractmethod
    def messages(self, texts: SlotTexts, order: str | None) -> list[Message]:
        """The chat messages for one item in one shown order (None for single-answer judges)."""

    @abstractmethod
    def parse(self, reply: Reply, order: str | None) -> Verdict:
        """Read a reply; an unreadable one is `INVALID`, never a tie."""

    def request_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        if self.top_logprobs:
            options.update(logprobs=True, top_logprobs=self.top_logprobs)
        return options


@dataclass(frozen=True)
class OfflineRow:
    """One verdict computed without a model call (the reference judge)."""

    judge_kind: str
    order: str | None
    verdict: str | None
    score: float | None
    valid: bool
    extra: dict[str, Any]


class OfflineJudge(Judge):
    """A judge that computes verdicts locally: no requests, no cost, instant."""

    @abstractmethod
    def judge_pair(self, texts: SlotTexts) -> list[OfflineRow]:
        """Rows for a pair, one per shown order."""

    @abstractmethod
    def judge_one(self, texts: SlotTexts) -> list[OfflineRow]:
        """Rows for a single answer."""


def shown(texts: SlotTexts, order: str | None) -> tuple[str, str]:
    """(first shown, second shown) answers for a pairwise order."""
    if texts.baseline is None:
        raise ValueError("a pairwise judge needs a baseline answer")
    return (texts.output, texts.baseline) if order == "AB" else (texts.baseline, texts.output)
