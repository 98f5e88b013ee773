"""The prompts that would separate two checkpoints: the textbook paired sample size, checked by hand
and against scipy's normal power."""

from __future__ import annotations

import math

import pytest
from scipy.stats import norm

from evalkit.stats.sample_size import prompts_to_separate, separation_guidance


def _power(n: int, difference: float, sd: float, level: float = 0.95) -> float:
    """Power of the two-sided z test of a paired mean at n prompts (both tails)."""
    z = norm.ppf(1 - (1 - level) / 2)
    shift = abs(difference) * math.sqrt(n) / sd
    return float(norm.cdf(shift - z) + norm.cdf(-shift - z))


def test_hand_worked_case() -> None:
    # sd 10, difference 5: ((1.959964 + 0.841621) * 10 / 5)^2 = 5.603170^2 = 31.40 -> 32 prompts
    assert prompts_to_separate(5.0, 10.0) == 32
    assert prompts_to_separate(-5.0, 10.0) == 32  # the sign of the difference does not matter
    assert _power(32, 5.0, 10.0) >= 0.8 > _power(31, 5.0, 10.0)


@pytest.mark.parametrize(("difference", "sd"), [(12.5, 33.54), (2.0, 40.0), (30.0, 45.0)])
def test_it_is_the_smallest_n_with_80_percent_power(difference: float, sd: float) -> None:
    n = prompts_to_separate(difference, sd)
    assert n is not None
    assert _power(n, difference, sd) >= 0.8 - 1e-3  # the formula drops the far tail (at most ~1e-3 here)
    assert _power(n - 1, difference, sd) < 0.8 + 1e-3


def test_no_number_for_no_difference() -> None:
    assert prompts_to_separate(0.0, 10.0) is None
    assert prompts_to_separate(float("nan"), 10.0) is None


def test_guidance_counts_what_is_missing_and_says_why_there_is_no_number() -> None:
    guidance = separation_guidance(5.0, 10.0, n=20)
    assert (guidance.prompts_needed, guidance.more_prompts, guidance.reason) == (32, 12, None)
    assert (guidance.power, guidance.level) == (0.8, 0.95)
    assert separation_guidance(5.0, 10.0, n=500).more_prompts == 0  # already enough: none more, never negative
    zero = separation_guidance(0.0, 10.0, n=50)
    assert zero.prompts_needed is None and zero.more_prompts is None and "difference is 0" in str(zero.reason)
    assert "fewer than two" in str(separation_guidance(5.0, float("nan"), n=1).reason)
