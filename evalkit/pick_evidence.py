"""The typed record of a checkpoint pick: what was compared, by which judges, under which decoding,
and why the chosen one won. It is what `evalkit pick --json`, RUN/picked.json, the store's
`decisions.evidence` and the leaderboard's Checkpoints page show, field for field."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class JudgeRef:
    kind: str
    judge_model: str
    spec_hash: str


@dataclass(frozen=True)
class EvidenceRow:
    """One checkpoint of the window. `win_rate` and `likert_mean` are the results layer's summary
    figures for this checkpoint's generation set (the same numbers `evalkit run` prints)."""

    model_id: int
    name: str
    epoch: int
    decoding: str
    n_valid: int
    n_invalid: int
    win_rate: float | None
    likert_mean: float | None
    tied_with_best: bool
    vs_best_difference: float | None = None
    vs_best_ci_low: float | None = None
    vs_best_ci_high: float | None = None
    vs_best_p_value: float | None = None


@dataclass(frozen=True)
class Significance:
    """The best checkpoint against the runner-up on the prompts both were judged on."""

    best: str
    runner_up: str
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    level: float
    n_resamples: int
    standard_error: float | None = None  # of the difference: sd of the per-prompt differences / sqrt(n)


@dataclass(frozen=True)
class Provenance:
    """Which evalkit made the decision, and the store's record of the evaluating run."""

    evalkit_version: str
    git_revision: str | None
    run_id: int


@dataclass(frozen=True)
class PickEvidence:
    policy: str
    reason: str
    best_by_win_rate: str
    judge: JudgeRef
    likert_judge: JudgeRef | None
    baseline: str
    baseline_decoding: str
    decoding: str
    prompt_set: str
    window: tuple[int, int]
    missing_epochs: list[int]
    skipped: dict[str, str]
    rows: list[EvidenceRow]
    significance: Significance | None
    provenance: Provenance
    extra: dict[str, Any] = field(default_factory=dict)
    # False when the best is statistically tied and no grade separates the tied ones: the pick is the
    # earliest epoch by convention; then the prompts that would separate best and runner-up (in all, and more).
    decided: bool = True
    prompts_to_separate: int | None = None
    more_prompts_to_separate: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
