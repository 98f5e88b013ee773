"""The typed record of a checkpoint pick: what was chosen, what was compared, by which judges, under
which decoding, and why the chosen one won. `PickEvidence.as_dict` is its one serialisation: what
`evalkit pick --json` prints, RUN/picked.json holds, the store's `decisions.evidence` keeps and the
leaderboard's Checkpoints page reads (`stored_record`), field for field."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from evalkit.core.records import JudgeIdentity
from evalkit.core.rounding import format_figure
from evalkit.decision.stopping_record import StoppingRecord
from evalkit.files.jsonio import json_safe


@dataclass(frozen=True)
class EvidenceRow:
    """One checkpoint of the window. `win_rate` and `likert_mean` are the results layer's summary
    figures for this checkpoint's generation set (the same numbers `evalkit run` prints); the
    combined (human + judge, PPI++) figures are evalkit.results.combined's, None without human labels.
    `vs_best_*`: the policy's comparison with the best (the judge's paired bootstrap, or the combined
    estimates' normal interval under the combined policy)."""

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
    combined: float | None = None
    combined_ci_low: float | None = None
    combined_ci_high: float | None = None
    n_humans: int | None = None
    human_only: float | None = None
    human_only_ci_low: float | None = None
    human_only_ci_high: float | None = None
    ppi_lambda: float | None = None
    effective_n_humans: float | None = None


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
class PowerGuidance:
    """How many prompts in all (`prompts_needed`) and how many more than the `n` compared
    (`more_prompts`) would separate the best from the runner-up at the observed paired difference
    (`difference`, win-rate points; `sd` of the per-prompt differences) with `power` in a two-sided
    test at `level`. Figures are null, and `reason` says why, when there is no runner-up or no number
    of prompts would separate them (an observed difference of 0).

    When the best and the runner-up both have human labels: their combined estimates' difference
    (`combined_difference`, its conservative `combined_standard_error`) and how many labelled prompts in
    all, over both checkpoints (`human_labels_needed`), and how many more (`more_human_labels`) would
    separate them with the same power (evalkit.stats.human_label_power); else null, and
    `human_labels_reason` says why."""

    best: str
    runner_up: str | None
    difference: float | None
    sd: float | None
    n: int | None
    prompts_needed: int | None
    more_prompts: int | None
    power: float
    level: float
    reason: str | None = None
    combined_difference: float | None = None
    combined_standard_error: float | None = None
    human_labels_needed: int | None = None
    more_human_labels: int | None = None
    human_labels_reason: str | None = None


@dataclass(frozen=True)
class Provenance:
    """Which evalkit made the decision, and the store's record of the evaluating run."""

    evalkit_version: str
    git_revision: str | None
    run_id: int


@dataclass(frozen=True)
class PickEvidence:
    chosen: str  # the picked checkpoint's name ("epoch-7")
    epoch: int
    model_id: int
    run: str  # the training output directory, resolved
    policy: str
    reason: str
    best_by_win_rate: str
    judge: str  # the kind of the judge whose win rate ranks (its full identity: `win_judge`)
    judge_model: str
    judge_spec_hash: str
    likert_judge: JudgeIdentity | None
    baseline: str
    baseline_decoding: str
    decoding: str
    prompt_set: str
    window: tuple[int, int]
    missing_epochs: list[int]
    skipped: dict[str, str]
    evidence: list[EvidenceRow]  # one per checkpoint of the window
    significance: Significance | None
    provenance: Provenance
    extra: dict[str, Any] = field(default_factory=dict)
    # False when the best is statistically tied and no grade separates the tied ones: the pick is the
    # earliest epoch by convention; then the prompts that would separate best and runner-up (in all, and more).
    decided: bool = True
    prompts_to_separate: int | None = None
    more_prompts_to_separate: int | None = None
    power: PowerGuidance | None = None  # every pick's guidance, decided or not (None only in records made before it)
    # what --stop-when-decided saved, when a checkpoint was judged on fewer prompts than the set has; the
    # key is left out of the record otherwise, so a pick where nothing stopped reads as before
    stopping: StoppingRecord | None = None

    @property
    def win_judge(self) -> JudgeIdentity:
        return JudgeIdentity(self.judge, self.judge_model, self.judge_spec_hash)

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON data (NaN as null, the window as a list): the one serialisation of a pick."""
        data: dict[str, Any] = json_safe(asdict(self))
        if data.get("stopping") is None:
            data.pop("stopping", None)
        return data


def human_labels_sentence(record: dict[str, Any]) -> str | None:
    """The pick's human-label power guidance as one line (`evalkit pick`, the Checkpoints page); None
    when the record has none to give (no human labels on the best and runner-up, or made before it)."""
    power = record.get("power")
    if not isinstance(power, dict) or power.get("combined_difference") is None:
        return None
    needed, more = power.get("human_labels_needed"), power.get("more_human_labels")
    if needed is None:
        return f"no human-label guidance: {power.get('human_labels_reason') or 'no figures'}"
    extra = f"{more} more" if more else "0 more: those labelled are enough"
    return (
        f"about {needed} human-labelled prompts over both ({extra}) would separate {power['best']} from "
        f"{power['runner_up']} on the combined win rate with {power['power']:.0%} power at the observed difference of "
        f"{format_figure(power['combined_difference'], 1, sign=True)} points"
    )


def stored_record(evidence: Any) -> dict[str, Any]:
    """A decision record as the store returns it (JSON text or already decoded): what the leaderboard
    shows; {} when there is none."""
    if isinstance(evidence, str):
        evidence = json.loads(evidence)
    return evidence if isinstance(evidence, dict) else {}


def power_sentence(record: dict[str, Any]) -> str | None:
    """The pick's power guidance as one line (`evalkit pick`, the Checkpoints page), from the record as
    serialised; None for a record made before it."""
    power = record.get("power")
    if not isinstance(power, dict):
        return None
    needed, more = power.get("prompts_needed"), power.get("more_prompts")
    if needed is None or power.get("runner_up") is None:
        return f"no power guidance: {power.get('reason') or 'no figures'}"
    extra = f"{more} more" if more else f"0 more: the {power.get('n')} compared are enough"
    return (
        f"about {needed} prompts ({extra}) would separate {power['best']} from {power['runner_up']} with "
        f"{power['power']:.0%} power at the observed difference of {format_figure(power.get('difference'), 1, sign=True)} "
        f"win-rate points ({power['level']:.0%} two-sided)"
    )
