"""Active inference (Hansen–Hurwitz PPI): a hand-worked case, agreement with PPI++ when the design is
uniform, unbiasedness and coverage under an unequal-probability design."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from evalkit.stats.active_inference import (
    active_interval,
    active_lambda,
    active_mean,
    draw_items,
    sampling_probabilities,
)
from evalkit.stats.prediction_powered import power_tuning_lambda, ppi_interval, prediction_powered_mean


def test_probabilities_mix_uncertainty_with_a_uniform_share() -> None:
    # (1 - 0.2) * u / 4 + 0.2 / 4, u = (1, 0, 1, 2)
    assert sampling_probabilities([1, 0, 1, 2], eps=0.2) == pytest.approx([0.25, 0.05, 0.25, 0.45])
    assert sampling_probabilities([0, 0, 0]) == pytest.approx([1 / 3] * 3)
    with pytest.raises(ValueError):
        sampling_probabilities([1, -1])


def test_hand_worked_case() -> None:
    """N = 4, f_all = (0, 1, 1, 0); drawn: item 0 (p = 1/2, y = 1) and item 1 (p = 1/4, y = 1).
    Weights 1/(N p) = 1/2 and 1: a = y w = (1/2, 1), b = f w = (0, 1).
    lam = cov(a, b) / (var(b) + K/N var(f)) = (1/8) / (1/4 + 2/4 * 1/4) = 1/3.
    At lam = 1/2: z = a - b/2 = (1/2, 1/2), theta = 1/2 * mean(f) + mean(z) = 3/4,
    var = var(z)/K + lam^2 var(f)/N = 0 + 1/4 * 1/4 / 4 = 1/64: half-width 1.96 / 8."""
    y, f, p, draws, f_all = [1.0, 1.0], [0.0, 1.0], [0.5, 0.25], [1, 1], [0.0, 1.0, 1.0, 0.0]
    assert active_lambda(y, f, p, draws, f_all) == pytest.approx(1 / 3)
    interval = active_interval(y, f, p, draws, f_all, lam=0.5)
    half = norm.ppf(0.975) / 8
    assert (interval.estimate, interval.low, interval.high) == pytest.approx((0.75, 0.75 - half, 0.75 + half))


def test_an_item_drawn_twice_counts_twice() -> None:
    f_all = np.linspace(0, 1, 10)
    once = active_interval([1, 0, 0], [0.9, 0.1, 0.1], [0.2, 0.1, 0.1], [1, 1, 1], f_all, lam=0.4)
    twice = active_interval([1, 0], [0.9, 0.1], [0.2, 0.1], [1, 2], f_all, lam=0.4)
    assert (twice.estimate, twice.low, twice.high) == pytest.approx((once.estimate, once.low, once.high))


def test_draws_are_seeded_and_count_every_draw() -> None:
    p = sampling_probabilities(np.arange(50, dtype=float))
    first, again = draw_items(p, 40, seed=3), draw_items(p, 40, seed=3)
    assert np.array_equal(first.items, again.items) and np.array_equal(first.draws, again.draws)
    assert first.n_draws == 40 and np.all(np.diff(first.items) > 0)
    many = draw_items(p, 200_000, seed=1)
    frequency = np.zeros(50)
    frequency[many.items] = many.draws / many.n_draws
    assert frequency == pytest.approx(p, abs=0.003)


def _population(rng: np.random.Generator, big_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Humans' preferences on {0, 0.5, 1} and a judge's soft preference that sees them through noise."""
    truth = rng.choice([0.0, 0.5, 1.0], size=big_n, p=[0.3, 0.2, 0.5])
    judge = np.clip(truth + rng.normal(0, 0.35, size=big_n), 0, 1)
    return truth, judge


def test_uniform_design_is_ppi_plus_plus() -> None:
    """With p = 1/N every weight is 1: on the same items (no repeats) and lam, the interval is PPI++'s."""
    rng = np.random.default_rng(0)
    truth, judge = _population(rng, 800)
    items = rng.choice(800, size=100, replace=False)
    p = np.full(100, 1 / 800)
    ours = active_interval(truth[items], judge[items], p, np.ones(100), judge, lam=0.6)
    theirs = ppi_interval(truth[items], judge[items], judge, lam=0.6)
    assert (ours.estimate, ours.low, ours.high) == pytest.approx((theirs.estimate, theirs.low, theirs.high))
    assert active_lambda(truth[items], judge[items], p, np.ones(100), judge) == pytest.approx(
        power_tuning_lambda(truth[items], judge[items], judge), abs=0.02
    )


def test_uniform_draws_with_replacement_agree_with_ppi_plus_plus_on_average() -> None:
    rng = np.random.default_rng(1)
    truth, judge = _population(rng, 800)
    uniform = sampling_probabilities(np.zeros(800))
    ours, theirs = [], []
    for seed in range(300):
        drawn = draw_items(uniform, 100, seed)
        ours.append(active_mean(truth[drawn.items], judge[drawn.items], uniform[drawn.items], drawn.draws, judge).combined.width)
        sample = np.random.default_rng(10_000 + seed).choice(800, size=100, replace=False)
        theirs.append(prediction_powered_mean(truth[sample], judge[sample], judge).combined.width)
    # without replacement from 800 is a little narrower (finite population), not more than a few percent
    assert np.mean(ours) == pytest.approx(np.mean(theirs), rel=0.04)


def test_unequal_design_is_unbiased_and_covers() -> None:
    """1,000 draws of K = 150 from a fixed population of 1,000 items, p from the judge's margin: the
    estimates centre on the humans' full-population mean and the 95% interval covers it >= 93%."""
    rng = np.random.default_rng(7)
    truth, judge = _population(rng, 1000)
    target = truth.mean()
    p = sampling_probabilities(1 - np.abs(2 * judge - 1))
    estimates, covered = [], 0
    for seed in range(1000):
        drawn = draw_items(p, 150, seed)
        result = active_mean(truth[drawn.items], judge[drawn.items], p[drawn.items], drawn.draws, judge)
        estimates.append(result.combined.estimate)
        covered += result.combined.low <= target <= result.combined.high
    assert np.mean(estimates) == pytest.approx(target, abs=0.005)
    assert covered / 1000 >= 0.93


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="one value per drawn item"):
        active_mean([1, 0], [0.5], [0.1, 0.1], [1, 1], [0.5] * 10)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        active_mean([1, 0], [0.5, 0.5], [0.0, 0.1], [1, 1], [0.5] * 10)
    with pytest.raises(ValueError, match="level"):
        active_mean([1, 0], [0.5, 0.5], [0.1, 0.1], [1, 1], [0.5] * 10, level=1.5)
