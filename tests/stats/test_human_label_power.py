"""Human labels that would separate two combined (PPI++) estimates: a hand-worked case and its edges."""

from __future__ import annotations

import math

from scipy.stats import norm

from evalkit.stats.human_label_power import Estimate, human_labels_to_separate


def _power(difference: float, variance: float) -> float:
    """Power of the two-sided 95% z test at this difference and variance of the difference."""
    z = difference / math.sqrt(variance)
    return float(norm.sf(norm.ppf(0.975) - z) + norm.cdf(-norm.ppf(0.975) - z))


def test_hand_worked_case() -> None:
    # d = 10 points; judge terms 2 + 2 = 4; human terms 12 (20 labelled) + 8 (10 labelled) = 20.
    # z_0.975 + z_0.8 = 1.959964 + 0.841621 = 2.801585, so T = (10 / 2.801585)^2 = 12.7407.
    # c = H / (T - J) = 20 / 8.7407 = 2.2882: ceil(2.2882 * 20) = 46 and ceil(2.2882 * 10) = 23 labelled
    # prompts, 69 in all, 39 more than the 30 labelled now.
    best = Estimate(value=60.0, judge_variance=2.0, human_variance=12.0, n_humans=20, n_judge=200)
    runner_up = Estimate(value=50.0, judge_variance=2.0, human_variance=8.0, n_humans=10, n_judge=200)
    guidance = human_labels_to_separate(best, runner_up)
    assert (guidance.human_labels_needed, guidance.more_human_labels, guidance.reason) == (69, 39, None)
    # at those counts the test has 80% power; with the scale a label short of it, it has not
    assert _power(10, 4 + 12 * 20 / 46 + 8 * 10 / 23) >= 0.8
    assert _power(10, 4 + 12 * 20 / 45.7 + 8 * 10 / 22.85) < 0.8


def test_enough_labels_already_and_no_number_at_all() -> None:
    precise = Estimate(value=80.0, judge_variance=1.0, human_variance=1.0, n_humans=40, n_judge=100)
    other = Estimate(value=50.0, judge_variance=1.0, human_variance=1.0, n_humans=40, n_judge=100)
    enough = human_labels_to_separate(precise, other)
    assert enough.more_human_labels == 0 and enough.human_labels_needed is not None and enough.human_labels_needed < 80
    same = human_labels_to_separate(precise, Estimate(80.0, 1.0, 1.0, 40, 100))
    assert same.human_labels_needed is None and "difference of 0" in (same.reason or "")
    wide_judge = human_labels_to_separate(Estimate(52.0, 30.0, 1.0, 40, 100), Estimate(50.0, 30.0, 1.0, 40, 100))
    assert wide_judge.human_labels_needed is None and "more prompts" in (wide_judge.reason or "")
    too_many = human_labels_to_separate(Estimate(55.0, 0.1, 50.0, 40, 50), Estimate(50.0, 0.1, 50.0, 40, 50))
    assert too_many.human_labels_needed is None and "judged prompts" in (too_many.reason or "")
