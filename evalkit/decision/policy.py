"""The checkpoint-picking policies, as pure functions of per-prompt results.

Policy `winrate-likert-earliest`:
1. Every checkpoint in the window gets its win rate against the baseline: the results layer's one
   definition (AlpacaEval's, 100 * mean(preference - 1) over valid judgments: ties count half for
   verdict judges, AlpacaEval's weighted preference for its judge), invalid judgments left out.
2. The best is the highest win rate. Every other checkpoint is compared with it on the prompts both
   have, by a paired bootstrap interval of the difference (evalkit.stats.compare). Those whose
   interval contains 0 are statistically tied with the best.
3. Among the tied ones (the best included) the highest Likert mean wins; checkpoints without Likert
   scores rank below those with them; what is still tied goes to the earlier epoch (less training is
   the smaller change, and LIMA saw later epochs overfit).

A pick the evidence does not make is said to be one: when the best is tied with another checkpoint
and no grade separates them, the earliest epoch is a convention, not a finding, so the decision is
`decided: false`, its reason starts with "tied", and it says how many prompts would separate the best
from the runner-up at the observed difference (evalkit.stats.sample_size).

Policy `combined-likert-earliest` is the same with the combined (human + judge, PPI++) win rate of
evalkit.results.combined in place of the judge's: the best is the highest combined estimate, and a
checkpoint is tied with it when the normal interval of the difference of the two estimates (SE =
sqrt(se_best^2 + se_other^2), conservative: the judge terms share prompts) contains 0. Every checkpoint
of the window needs human labels (evalkit.decision.combined_ranking).

Every pick also carries that guidance as `power`, decided or not: how many prompts in all (and how many
more) would separate the best from the runner-up at the observed paired difference with 80% power — the
same figure the tie rule reports, computed once from the best-vs-runner-up comparison. When the best
and the runner-up both have human labels, `power` also says how many labelled prompts would separate
their combined estimates (evalkit.stats.human_label_power).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.core.rounding import format_figure
from evalkit.decision.combined_ranking import combined_difference, combined_reason, human_power, require_combined
from evalkit.decision.policy_names import (  # noqa: F401  (re-exported: the policies' names live with their code)
    COMBINED_POLICY,
    POLICIES,
    POLICY,
)
from evalkit.results.combined import COMBINED_COLUMNS
from evalkit.stats.compare import PairedDifference, paired_bootstrap_difference, paired_bootstrap_differences
from evalkit.stats.sample_size import DEFAULT_POWER, SeparationGuidance, separation_guidance
from evalkit.stats.summary import preference_column, summarize_likert, summarize_pairwise
from evalkit.stats.winrate import preference_unit


def _per_prompt(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """prompt x checkpoint matrix of per-prompt means (NaN where missing or invalid)."""
    if frame.empty:
        return pd.DataFrame()
    return frame.pivot_table(index="prompt_hash", columns="model_id", values=column, aggfunc="mean")


def figures_of(pairwise: pd.DataFrame, likert: pd.DataFrame) -> pd.DataFrame:
    """Per model_id: win_rate, n_valid, n_invalid and likert_mean, by the summary's own definitions
    (evalkit.stats.summary). `pick` passes the results layer's summary of the same rows instead."""
    keys = ["model_id"]
    wins = (
        summarize_pairwise(
            pairwise[[c for c in pairwise.columns if c in (*keys, "prompt_hash", "preference", "outcome")]],
            n_resamples=1,
            length_controlled=False,
        )
        if not pairwise.empty
        else pd.DataFrame()
    )
    grades = (
        summarize_likert(likert[[c for c in likert.columns if c in (*keys, "prompt_hash", "score", "valid")]], n_resamples=1)
        if not likert.empty
        else pd.DataFrame()
    )
    frame = pd.DataFrame({"model_id": pd.Series(dtype=np.int64)})
    if not wins.empty:
        frame = frame.merge(
            wins[["model_id", "win_rate", "n", "n_invalid"]].rename(columns={"n": "n_valid"}), on="model_id", how="outer"
        )
    if not grades.empty:
        frame = frame.merge(grades[["model_id", "mean"]].rename(columns={"mean": "likert_mean"}), on="model_id", how="outer")
    return frame


def choose(
    pairwise: pd.DataFrame,
    likert: pd.DataFrame,
    checkpoints: pd.DataFrame,
    *,
    figures: pd.DataFrame | None = None,
    n_resamples: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
    policy: str = POLICY,
) -> dict[str, Any]:
    """`pairwise`: model_id, prompt_hash, and preference (AlpacaEval scale, NaN = invalid) or outcome
    (win/tie/loss/invalid); `likert`: model_id, prompt_hash, score (NaN = invalid); `checkpoints`:
    model_id, name, epoch — the window's checkpoints; `figures`: per model_id win_rate, n_valid,
    n_invalid, likert_mean (default: `figures_of` the two tables), and the combined figures of
    evalkit.results.combined where checkpoints have human labels (policy `combined-likert-earliest`
    ranks on them and refuses a window where a checkpoint has none).

    Returns chosen name/epoch/model_id, the reason, an evidence row per checkpoint and the best-vs-
    runner-up significance. Raises EvalkitError when no checkpoint has a single valid judgment."""
    ids = [int(i) for i in checkpoints["model_id"]]
    pairwise = pairwise[pairwise["model_id"].isin(ids)]
    likert = likert[likert["model_id"].isin(ids)] if not likert.empty else likert
    figures = (figures_of(pairwise, likert) if figures is None else figures).set_index("model_id").reindex(ids)
    wins = _per_prompt(pairwise.assign(unit=preference_unit(preference_column(pairwise))), "unit").reindex(columns=ids)
    valid_counts = figures["n_valid"].fillna(0).astype(int) if "n_valid" in figures else pd.Series(0, index=ids)
    candidates = [i for i in ids if valid_counts.get(i, 0) > 0]
    if not candidates:
        raise EvalkitError(
            "no valid pairwise judgment for any checkpoint in the window; cannot pick (check the judge's invalid counts)"
        )

    win_rate = {i: float(figures.at[i, "win_rate"]) for i in candidates}
    likert_mean = {
        i: float(figures.at[i, "likert_mean"])
        if "likert_mean" in figures and pd.notna(figures.at[i, "likert_mean"])
        else math.nan
        for i in ids
    }
    epoch_of = dict(zip(checkpoints["model_id"].astype(int), checkpoints["epoch"]))
    name_of = dict(zip(checkpoints["model_id"].astype(int), checkpoints["name"]))
    on_combined = policy == COMBINED_POLICY
    if on_combined:
        require_combined(candidates, figures, name_of)
    score = {i: float(figures.at[i, "combined"]) for i in candidates} if on_combined else win_rate
    best = max(candidates, key=lambda i: (score[i], -epoch_of[i]))
    others = [i for i in candidates if i != best]
    comparisons: dict[int, PairedDifference] = {}
    if others:
        matrix_best = np.repeat(wins[best].to_numpy()[:, None], len(others), axis=1) * 100
        matrix_others = wins[others].to_numpy() * 100
        results = paired_bootstrap_differences(matrix_best, matrix_others, n_resamples=n_resamples, level=level, seed=seed)
        comparisons = dict(zip(others, results))
    # the policy's own comparison with the best: the judge's paired bootstrap, or the combined estimates'
    ranked = {i: combined_difference(figures, best, i, level) for i in others} if on_combined else comparisons
    tied = [best] + [i for i, c in ranked.items() if not (c["ci_low"] > 0)]
    chosen = min(
        tied, key=lambda i: (math.isnan(likert_mean[i]), -(likert_mean[i] if not math.isnan(likert_mean[i]) else 0), epoch_of[i])
    )
    runner_up = max(others, key=lambda i: (score[i], -epoch_of[i])) if others else None
    decided = len(tied) == 1 or _grade_separates(chosen, tied, likert_mean)
    versus = (
        versus_runner_up(
            wins[best],
            wins[runner_up],
            (name_of[best], name_of[runner_up]),
            n_resamples=n_resamples,
            level=level,
            seed=seed,
            drawn=comparisons[runner_up],
        )
        if runner_up is not None
        else None
    )
    guidance = versus.separation if versus is not None else None
    # The tie rule reports the guidance only when the pick is a convention; `power` always carries it.
    needed = None if decided or guidance is None else guidance.prompts_needed

    if runner_up is None:
        reason = "only one checkpoint in the window has valid judgments"
    elif on_combined:
        reason = combined_reason(len(tied), decided, level)
    elif len(tied) == 1:
        reason = f"highest win rate, significantly above every other checkpoint ({level:.0%} paired bootstrap)"
    elif decided:
        reason = f"{len(tied)} checkpoints statistically tied on win rate with the best; highest Likert mean, then earliest epoch"
    else:
        reason = _tied_reason(
            [name_of[i] for i in sorted(tied, key=epoch_of.__getitem__)],
            name_of[chosen],
            comparisons[runner_up],
            all(not math.isnan(likert_mean[i]) for i in tied),
            level,
            guidance,
        )

    evidence = []
    for i in ids:
        row: dict[str, Any] = {
            "model_id": i,
            "name": name_of[i],
            "epoch": int(epoch_of[i]),
            "n_valid": int(valid_counts.get(i, 0)),
            "n_invalid": int(figures.at[i, "n_invalid"])
            if "n_invalid" in figures and pd.notna(figures.at[i, "n_invalid"])
            else 0,
            "win_rate": win_rate.get(i, math.nan),
            "likert_mean": likert_mean[i],
            "tied_with_best": i in tied,
            **_combined_figures(figures, i),
        }
        if i in ranked:
            row.update({f"vs_best_{k}": v for k, v in ranked[i].items() if k in ("difference", "ci_low", "ci_high", "p_value")})
        evidence.append(row)
    significance = None
    if versus is not None:
        significance = {
            "best": versus.best,
            "runner_up": versus.runner_up,
            "difference": versus.difference,
            "ci_low": versus.ci_low,
            "ci_high": versus.ci_high,
            "p_value": versus.p_value,
            "n": versus.n,
            "level": versus.level,
            "n_resamples": versus.n_resamples,
            "standard_error": versus.standard_error,
        }
    return {
        "chosen": name_of[chosen],
        "epoch": int(epoch_of[chosen]),
        "model_id": chosen,
        "policy": policy,
        "decided": decided,
        "reason": reason,
        "prompts_to_separate": needed,
        "more_prompts_to_separate": None if needed is None or guidance is None else guidance.more_prompts,
        "best_by_win_rate": name_of[best],
        "evidence": evidence,
        "significance": significance,
        "power": {**_power_record(name_of[best], versus, guidance, level), **human_power(figures, best, runner_up, level)},
    }


def _combined_figures(figures: pd.DataFrame, model_id: int) -> dict[str, Any]:
    """A checkpoint's combined figures for its evidence row; None where it has no human labels."""
    values = {
        c: figures.at[model_id, c] if c in figures and pd.notna(figures.at[model_id, c]) else None for c in COMBINED_COLUMNS
    }
    if values["n_humans"] is not None:
        values["n_humans"] = int(values["n_humans"])
    return values


def _power_record(
    best: str, versus: RunnerUpComparison | None, guidance: SeparationGuidance | None, level: float
) -> dict[str, Any]:
    """The pick's power guidance (evalkit.decision.evidence.PowerGuidance): null figures, with the
    reason, when there is no runner-up or no number of prompts would separate the two."""
    if versus is None or guidance is None:
        return {
            "best": best,
            "runner_up": None,
            "difference": None,
            "sd": None,
            "n": None,
            "prompts_needed": None,
            "more_prompts": None,
            "power": DEFAULT_POWER,
            "level": level,
            "reason": "only one checkpoint in the window has valid judgments: there is no runner-up to separate",
        }
    return {"best": versus.best, "runner_up": versus.runner_up, **asdict(guidance)}


def _grade_separates(chosen: int, tied: list[int], likert_mean: dict[int, float]) -> bool:
    """Whether the Likert tie-break picked `chosen` over every other tied checkpoint (a strictly higher
    mean than each of theirs); a missing grade separates nothing."""
    mine = likert_mean[chosen]
    others = [likert_mean[i] for i in tied if i != chosen]
    return not math.isnan(mine) and all(not math.isnan(other) and mine > other for other in others)


@dataclass(frozen=True)
class RunnerUpComparison:
    """The best against the runner-up on the prompts both were validly judged on, in win-rate points:
    a paired bootstrap of the difference (best - runner-up) and the spread of the per-prompt differences."""

    best: str
    runner_up: str
    n: int
    mean_a: float  # the best's mean, over the shared prompts
    mean_b: float  # the runner-up's
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    level: float
    n_resamples: int
    difference_sd: float  # standard deviation of the per-prompt differences (NaN under two prompts)

    @property
    def standard_error(self) -> float:
        """Of the difference: sd of the per-prompt differences / sqrt(n)."""
        return self.difference_sd / math.sqrt(self.n) if self.n else math.nan

    @property
    def separation(self) -> SeparationGuidance:
        """The prompts that would separate best and runner-up at this difference and spread (80% power,
        this comparison's level): the one computation behind the tie rule's count and `power`."""
        return separation_guidance(self.difference, self.difference_sd, self.n, self.level)

    @property
    def significant(self) -> bool:
        """The best is above the runner-up: the whole interval is above 0."""
        return bool(self.ci_low > 0)


def versus_runner_up(
    best: pd.Series,
    runner_up: pd.Series,
    names: tuple[str, str],
    *,
    n_resamples: int,
    level: float = 0.95,
    seed: int = 0,
    drawn: PairedDifference | None = None,
) -> RunnerUpComparison:
    """The one best-vs-runner-up comparison (`pick`'s significance, a sweep's `vs_runner_up`). `best`
    and `runner_up`: per-prompt preferences on [0, 1] aligned on the same prompts, NaN where not
    validly judged. `drawn`: the same comparison when already drawn on these rows with these options
    (`choose` draws every checkpoint against the best on one set of resamples; the counts depend only
    on the rows, resamples and seed, so it is this comparison)."""
    a, b = best.to_numpy(dtype=np.float64) * 100, runner_up.to_numpy(dtype=np.float64) * 100
    result = drawn if drawn is not None else paired_bootstrap_difference(a, b, n_resamples=n_resamples, level=level, seed=seed)
    differences = ((best - runner_up) * 100).dropna().to_numpy()
    spread = float(np.std(differences, ddof=1)) if differences.size > 1 else math.nan
    return RunnerUpComparison(
        best=names[0],
        runner_up=names[1],
        n=result["n"],
        mean_a=result["mean_a"],
        mean_b=result["mean_b"],
        difference=result["difference"],
        ci_low=result["ci_low"],
        ci_high=result["ci_high"],
        p_value=result["p_value"],
        level=level,
        n_resamples=n_resamples,
        difference_sd=spread,
    )


def _tied_reason(
    tied: list[str], chosen: str, versus: PairedDifference, graded: bool, level: float, guidance: SeparationGuidance | None
) -> str:
    """ "tied: ..." — what the evidence cannot tell apart, how the pick was made anyway, and how many
    prompts it would take."""
    grades = "equal Likert means" if graded else "no Likert grade for every one of them"
    interval = f"[{format_figure(versus['ci_low'], 1, sign=True)}, {format_figure(versus['ci_high'], 1, sign=True)}]"
    if guidance is None or guidance.prompts_needed is None:
        more = "no number of prompts would separate them at an observed difference of 0"
    else:
        more = (
            f"about {guidance.prompts_needed} prompts ({guidance.more_prompts} more) would separate them at this difference "
            f"({level:.0%} two-sided, {DEFAULT_POWER:.0%} power)"
        )
    return (
        f"tied: {', '.join(tied)} cannot be told apart (best - runner-up {format_figure(versus['difference'], 1, sign=True)} "
        f"points, {level:.0%} interval {interval} over {versus['n']} prompts; {grades}); {chosen} is the earliest epoch, "
        f"a convention, not a finding; {more}"
    )
