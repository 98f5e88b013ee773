"""Typed records: what flows between stages and what the store keeps (see ARCHITECTURE.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from evalkit.core.hashing import content_hash
from evalkit.core.vocabulary import Output

if TYPE_CHECKING:
    import pandas as pd

Message = dict[str, str]  # {"role": ..., "content": ...}

# The columns that name a judge in every table of judgments and every summary, in this order.
JUDGE_COLUMNS: tuple[str, str, str] = ("judge_kind", "judge_model", "judge_spec_hash")


@dataclass(frozen=True, order=True)
class JudgeIdentity:
    """Which judge a result is from: the kind its judgments are stored under (a scorer's kind), the
    judging model, and the hash of its spec (prompt and parsing). The values of JUDGE_COLUMNS."""

    kind: str
    model: str
    spec_hash: str

    @property
    def columns(self) -> dict[str, str]:
        """{column: value} for JUDGE_COLUMNS."""
        return dict(zip(JUDGE_COLUMNS, (self.kind, self.model, self.spec_hash)))

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        """Which rows of a frame with JUDGE_COLUMNS are this judge's."""
        kind, model, spec_hash = (frame[column] for column in JUDGE_COLUMNS)
        return (kind == self.kind) & (model == self.model) & (spec_hash == self.spec_hash)


class GenerationSetKey(NamedTuple):
    """A generation set: a model's answers under one decoding configuration (its decoding hash).
    A named tuple, so it stays equal to the (model_id, decoding) pairs the store and judges pass."""

    model_id: int
    decoding: str


@dataclass(frozen=True)
class Prompt:
    """One item of a prompt set. `id` is the user's id within the set; `hash` identifies the content."""

    id: str
    messages: tuple[Message, ...]
    reference: str | None = None
    dataset: str | None = None

    @property
    def instruction(self) -> str:
        """The last user turn: what AlpacaEval calls the instruction and what files are matched by."""
        for message in reversed(self.messages):
            if message["role"] == "user":
                return message["content"]
        return self.messages[-1]["content"]

    @property
    def context(self) -> tuple[Message, ...]:
        """Everything before the final user turn (system message, earlier turns): what a judge and an
        annotator must see to understand a multi-turn question. Empty for a single-turn prompt."""
        return context_of(self.messages)

    @property
    def hash(self) -> str:
        return content_hash([dict(m) for m in self.messages])


def context_of(messages: tuple[Message, ...] | list[Message]) -> tuple[Message, ...]:
    """The messages before the last user turn."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "user":
            return tuple(dict(m) for m in messages[:index])
    return ()


@dataclass(frozen=True)
class PromptSet:
    name: str
    prompts: tuple[Prompt, ...]
    source: str

    @property
    def content_hash(self) -> str:
        return content_hash([[p.id, p.hash, p.reference] for p in self.prompts])


@dataclass(frozen=True)
class DecodingParams:
    """Everything about sampling that changes an answer; it is part of every generation's cache key."""

    temperature: float = 0.7
    top_p: float = 0.9
    repetition_penalty: float = 1.2
    max_new_tokens: int = 2048
    greedy: bool = False
    seed: int = 0
    # The numeric precision the engine computed in ("float32", "bfloat16", "float16"): vLLM on a CPU
    # downcasts float32 weights to bfloat16 unless told, and its greedy answers then differ from float32
    # ones on most prompts. None: not known (a remote server, answers stored before it was recorded).
    dtype: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.dtype is None:  # answers stored before dtype was recorded keep their keys
            del data["dtype"]
        return data

    @property
    def hash(self) -> str:
        # Greedy decoding ignores the sampling knobs, so they must not split the cache.
        data = self.as_dict()
        if self.greedy:
            data.update(temperature=0.0, top_p=1.0, seed=0)
        return content_hash(data)


@dataclass(frozen=True)
class ModelInfo:
    """A model under evaluation: a checkpoint directory, or outputs imported from a file."""

    name: str
    fingerprint: str
    path: str | None = None
    epoch: int | None = None
    run: str | None = None  # the training output directory a checkpoint belongs to


@dataclass(frozen=True)
class GenerationRequest:
    prompt: Prompt
    sample: int


@dataclass
class GenerationResult:
    prompt_hash: str
    sample: int
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    latency_s: float | None = None


@dataclass
class Judgment:
    """One judge call (or one parsed verdict); `cache_key` covers everything that changes the answer."""

    cache_key: str
    judge_kind: str
    judge_spec_hash: str
    judge_model: str
    prompt_hash: str
    generation_a: int | None
    generation_b: int | None
    order: str | None  # "AB" (model output shown first) / "BA"; None for single-answer judges
    sample: int
    raw: str
    verdict: str | None = None  # pairwise: "A" | "B" | "tie", from the shown order
    score: float | None = None  # likert 1-6, alpaca_eval preference 1-2
    valid: bool = True
    attempts: int = 1
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScorerSpec:
    """What one judge writes to the store: its judgments' `judge_kind` and how they are read and
    aggregated (evalkit.core.vocabulary's outputs). A judge may write several (the reference judge: a
    pairwise verdict and a single-answer grade)."""

    kind: str
    output: Output


@dataclass(frozen=True)
class Decision:
    run: str
    chosen_model: str
    epoch: int | None
    policy: str
    evidence: Any  # evalkit.decision.evidence.PickEvidence; stored as its dict
