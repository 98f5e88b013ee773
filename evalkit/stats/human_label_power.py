"""How many human labels would separate two prediction-powered (PPI++) estimates with a given power.

Each checkpoint k's combined estimate is theta_k = mean(lambda f over its N_k judged prompts) +
mean(y - lambda f over its n_k labelled prompts), with variance

    V_k = J_k + H_k,  J_k = var(lambda f) / N_k  (the judge term),  H_k = var(y - lambda f) / n_k  (the humans').

Labelling c times as many prompts of each checkpoint (n_k -> c n_k, the judge's prompts and lambda held
where they are) leaves J_k and divides H_k by c. The difference d = theta_best - theta_runner_up is
treated as the difference of independent estimates, Var(d) = J + H / c with J = J_best + J_runner_up
and H = H_best + H_runner_up; their judge terms share prompts and are positively correlated, so the true
variance is smaller and the count is conservative. A two-sided test at `level` has `power` at the
observed d when

    |d| / sqrt(J + H / c) >= z_(1 - (1 - level) / 2) + z_power,  i.e.  J + H / c <= T = (d / (z_a + z_b))^2,

so c = H / (T - J), and the labelled prompts needed are ceil(c n_best) + ceil(c n_runner_up). No number
of labels is enough when d = 0 or J >= T (the judge term alone is too wide: more prompts are needed
first), nor when a checkpoint would need more labelled prompts than it has judged prompts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from evalkit.stats.sample_size import DEFAULT_POWER


@dataclass(frozen=True)
class Estimate:
    """One checkpoint's combined estimate: its value, its two variance terms (in the value's units
    squared), its labelled prompts n and its judged prompts N."""

    value: float
    judge_variance: float
    human_variance: float
    n_humans: int
    n_judge: int


@dataclass(frozen=True)
class HumanLabelGuidance:
    """Labelled prompts in all (both checkpoints) and more than now; None with `reason` when no
    number of labels would do."""

    human_labels_needed: int | None
    more_human_labels: int | None
    reason: str | None = None


def human_labels_to_separate(
    best: Estimate, runner_up: Estimate, level: float = 0.95, power: float = DEFAULT_POWER
) -> HumanLabelGuidance:
    """The labelled prompts that would separate `best` from `runner_up` (module docstring)."""
    difference = best.value - runner_up.value
    z_sum = float(norm.ppf(0.5 + level / 2)) + float(norm.ppf(power))
    if difference == 0 or not math.isfinite(difference):
        return HumanLabelGuidance(None, None, "no number of human labels separates an observed difference of 0")
    target = (difference / z_sum) ** 2
    judge = best.judge_variance + runner_up.judge_variance
    humans = best.human_variance + runner_up.human_variance
    if judge >= target:
        return HumanLabelGuidance(
            None, None, "the judge's own uncertainty is wider than the difference: more prompts are needed first"
        )
    scale = humans / (target - judge)
    per_checkpoint = [math.ceil(scale * estimate.n_humans - 1e-9) for estimate in (best, runner_up)]
    if any(needed > estimate.n_judge for needed, estimate in zip(per_checkpoint, (best, runner_up))):
        return HumanLabelGuidance(None, None, "it would take more labelled prompts than there are judged prompts")
    needed = sum(per_checkpoint)
    return HumanLabelGuidance(needed, max(0, needed - best.n_humans - runner_up.n_humans))
