"""What every judge is made of: the request it sends, the reply it gets, the verdict it parses.

LLM judges only build messages and parse replies; sending, caching, retrying and paying live in the
runner, so a new judge kind is a template plus a parse rule. The offline reference judge computes its
verdicts directly instead (see `OfflineJudge`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Literal

from evalkit.core.conversation import render_question
from evalkit.core.hashing import content_hash
from evalkit.core.records import ScorerSpec
from evalkit.core.vocabulary import ORDERS
from evalkit.judges.aggregation import Aggregation, aggregation_of, spec_output
from evalkit.judges.templates import Template

Mode = Literal["pairwise", "single"]
Message = dict[str, str]

BOTH_ORDERS: tuple[str, ...] = ORDERS


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
    """The texts a judge sees for one item, with the evaluated model's answer first for pairwise judges.
    `context`: the messages before the final user turn (system message, earlier turns) of a multi-turn prompt."""

    instruction: str
    output: str
    baseline: str | None = None
    reference: str | None = None
    context: tuple[Message, ...] = ()

    @property
    def question(self) -> str:
        """What a template's {instruction} slot shows: the whole conversation for a multi-turn prompt."""
        return render_question(self.instruction, self.context)


class Judge(ABC):
    """Common identity of all judges: kind, mode, and a spec hash covering everything that changes verdicts."""

    kind: str
    mode: Mode
    label: str  # how summaries name it; the reference judge says it is a reference-overlap score
    judge_model: str
    # A local judge (`--judge-checkpoint`): the served checkpoint's fingerprint (config, weights,
    # tokenizer), part of the spec hash, so two judge checkpoints served under one name never share a
    # cached judgment. None for a judge behind an endpoint (its hash is what it always was).
    judge_fingerprint: str | None = None

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """Everything that changes the answer (template hash, parse rule, sampling), for the spec hash."""

    # Whether the judge scores answers against the prompt set's reference answers (which then cannot
    # also be the baseline), and whether asking it again can give another grade (so K samples mean
    # something only for a judge that samples).
    reads_references: ClassVar[bool] = False
    samples_independently: ClassVar[bool] = False

    # What a judge class writes and so how it is aggregated (evalkit.judges.aggregation), declared on
    # the class with `@aggregates(...)` so the results layer can read stored judgments without
    # building the judge.
    SCORERS: ClassVar[tuple[ScorerSpec, ...]] = ()

    def scorers(self) -> tuple[ScorerSpec, ...]:
        """The class's declaration; a judge without one gives verdicts in both orders when pairwise and
        a score when single (`spec_output`)."""
        return self.SCORERS or (ScorerSpec(self.kind, spec_output(self.mode == "pairwise")),)

    def aggregations(self) -> dict[str, Aggregation]:
        """judge_kind -> how its judgments are aggregated, for every kind this judge writes."""
        return {scorer.kind: aggregation_of(scorer.output) for scorer in self.scorers()}

    def scorer(self, compares: bool) -> ScorerSpec | None:
        """The scorer that compares with a baseline (compares=True) or grades one answer, if any."""
        return next((s for s in self.scorers() if aggregation_of(s.output).compares == compares), None)

    def description(self) -> dict[str, Any]:
        """The whole configuration, stored once under the spec hash: the spec plus anything the spec
        only names by hash (a template's text)."""
        described = {"kind": self.kind, "mode": self.mode, "label": self.label, "spec": self.spec()}
        if self.judge_fingerprint:
            described["judge_checkpoint"] = self.judge_fingerprint
        return described

    def spec_rows(self) -> list[dict[str, Any]]:
        """judge_specs rows of this judge, one per scorer."""
        return [
            {
                "spec_hash": self.spec_hash,
                "judge_model": self.judge_model,
                "judge_kind": s.kind,
                "output": s.output,
                "label": self.label,
                "description": self.description(),
            }
            for s in self.scorers()
        ]

    @cached_property
    def spec_hash(self) -> str:
        """Computed once: a judge's configuration does not change after it is built."""
        served = {"judge_checkpoint": self.judge_fingerprint} if self.judge_fingerprint else {}
        return content_hash({"kind": self.kind, "mode": self.mode, **self.spec(), **served})


class LLMJudge(Judge):
    """A judge that asks a chat model. Subclasses say what to send and how to read the reply."""

    samples_independently = True
    max_tokens: int = 512
    temperature: float = 0.0
    top_logprobs: int | None = None  # ask for the first token's top-k logprobs (alpaca_eval)
    template: Template

    def description(self) -> dict[str, Any]:
        return {
            **super().description(),
            "template_name": self.template.name,
            "template_text": self.template.text,
            "judge_model": self.judge_model,
        }

    def shortcut(self, texts: SlotTexts) -> Verdict | None:
        """A verdict known without asking (None: ask). AlpacaEval does not ask about identical outputs."""
        return None

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
