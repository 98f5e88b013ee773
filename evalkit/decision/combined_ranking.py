"""The pick on the combined (human + judge, PPI++) win rate (`combined-likert-earliest`), and the
human-label power guidance every pick carries when the best and the runner-up both have human labels.

The figures are the results layer's (evalkit.results.combined), one row per checkpoint in the pick's
`figures` frame: `combined`, `combined_standard_error` and the estimate's two variance terms.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from scipy.stats import norm

from evalkit.core.errors import EvalkitError
from evalkit.stats.human_label_power import Estimate, human_labels_to_separate

HUMAN_POWER_KEYS = (
    "combined_difference",
    "combined_standard_error",
    "human_labels_needed",
    "more_human_labels",
    "human_labels_reason",
)


def has_combined(figures: pd.DataFrame, model_id: int) -> bool:
    return "combined" in figures and pd.notna(figures.at[model_id, "combined"])


def require_combined(candidates: list[int], figures: pd.DataFrame, name_of: dict[int, str]) -> None:
    """The combined policy ranks only checkpoints with a combined figure: refuse, naming the others."""
    missing = [name_of[i] for i in candidates if not has_combined(figures, i)]
    if missing:
        raise EvalkitError(
            f"policy combined-likert-earliest needs human labels on every checkpoint; none (or under 2 labelled "
            f"prompts the judge judged) for {', '.join(missing)}: label them with `evalkit annotate create`, or pick "
            "with --policy winrate-likert-earliest"
        )


def combined_difference(figures: pd.DataFrame, best: int, other: int, level: float) -> dict[str, float]:
    """best - other on the combined estimate, with a normal interval whose SE is sqrt(se_best^2 +
    se_other^2). The two estimates' judge terms share prompts and are positively correlated, so the
    true SE of the difference is smaller: this interval is conservative (it calls more ties)."""
    difference = float(figures.at[best, "combined"]) - float(figures.at[other, "combined"])
    se = math.hypot(float(figures.at[best, "combined_standard_error"]), float(figures.at[other, "combined_standard_error"]))
    half = float(norm.ppf(0.5 + level / 2)) * se
    p_value = float(2 * norm.sf(abs(difference) / se)) if se > 0 else (0.0 if difference else 1.0)
    return {"difference": difference, "ci_low": difference - half, "ci_high": difference + half, "p_value": p_value}


def combined_reason(tied: int, decided: bool, level: float) -> str:
    """Why the combined policy picked what it picked (the tie rule's conservatism said once)."""
    rule = (
        f"{level:.0%} normal interval of the difference with SE = sqrt(se_best^2 + se_other^2), conservative since "
        "both estimates' judge terms share prompts"
    )
    if tied == 1:
        return f"highest combined (human + judge, PPI++) win rate, significantly above every other checkpoint ({rule})"
    if decided:
        return f"{tied} checkpoints statistically tied on the combined win rate with the best ({rule}); highest Likert mean, then earliest epoch"
    return (
        f"tied: {tied} checkpoints cannot be told apart on the combined win rate ({rule}) and no Likert grade separates "
        "them; the earliest epoch is a convention, not a finding"
    )


def _estimate(figures: pd.DataFrame, model_id: int) -> Estimate:
    return Estimate(
        value=float(figures.at[model_id, "combined"]),
        judge_variance=float(figures.at[model_id, "combined_judge_variance"]),
        human_variance=float(figures.at[model_id, "combined_human_variance"]),
        n_humans=int(figures.at[model_id, "n_humans"]),
        n_judge=int(figures.at[model_id, "n_judge"]),
    )


def human_power(figures: pd.DataFrame, best: int, runner_up: int | None, level: float) -> dict[str, Any]:
    """The power record's human-label keys (HUMAN_POWER_KEYS): how many labelled prompts in all (both
    checkpoints) and how many more would separate best and runner-up on the combined estimate
    (evalkit.stats.human_label_power); null figures with the reason when not applicable."""
    if runner_up is None or not (has_combined(figures, best) and has_combined(figures, runner_up)):
        reason = "no runner-up" if runner_up is None else "the best and the runner-up do not both have human labels"
        return dict.fromkeys(HUMAN_POWER_KEYS[:-1]) | {"human_labels_reason": reason}
    compared = combined_difference(figures, best, runner_up, level)
    se = math.hypot(float(figures.at[best, "combined_standard_error"]), float(figures.at[runner_up, "combined_standard_error"]))
    guidance = human_labels_to_separate(_estimate(figures, best), _estimate(figures, runner_up), level)
    return {
        "combined_difference": compared["difference"],
        "combined_standard_error": se,
        "human_labels_needed": guidance.human_labels_needed,
        "more_human_labels": guidance.more_human_labels,
        "human_labels_reason": guidance.reason,
    }
