"""PPI++ mean estimation checked against the authors' implementation (ppi_py), the classical interval
at lambda = 0, and a coverage simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from evalkit.stats.prediction_powered import (
    classical_interval,
    effective_n_humans,
    power_tuning_lambda,
    ppi_estimate,
    ppi_interval,
    prediction_powered_mean,
)

ppi_py = pytest.importorskip("ppi_py")


def _draw(rng: np.random.Generator, n: int, big_n: int, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Preferences on {0, 0.5, 1} (humans) and a judge that sees them through noise."""
    truth = rng.choice([0.0, 0.5, 1.0], size=big_n, p=[0.3, 0.2, 0.5])
    judge = np.clip(truth + rng.normal(0, noise, size=big_n), 0, 1)
    labelled = rng.choice(big_n, size=n, replace=False)
    return truth[labelled], judge[labelled], judge


@pytest.mark.parametrize("seed", range(5))
def test_tuned_lambda_matches_ppi_py(seed: int) -> None:
    y, f, f_all = _draw(np.random.default_rng(seed), 60, 700)
    expected_low, expected_high = ppi_py.ppi_mean_ci(y, f, f_all, alpha=0.05)
    result = prediction_powered_mean(y, f, f_all, 0.95)
    assert result.combined.low == pytest.approx(float(np.squeeze(expected_low)), abs=1e-9)
    assert result.combined.high == pytest.approx(float(np.squeeze(expected_high)), abs=1e-9)
    expected_estimate = float(np.squeeze(ppi_py.ppi_mean_pointestimate(y, f, f_all)))
    assert result.combined.estimate == pytest.approx(expected_estimate, abs=1e-9)
    assert 0 <= result.lam <= 1


@pytest.mark.parametrize("lam", [0.0, 0.37, 1.0])
def test_fixed_lambda_matches_ppi_py(lam: float) -> None:
    y, f, f_all = _draw(np.random.default_rng(11), 40, 500, noise=0.5)
    low, high = ppi_py.ppi_mean_ci(y, f, f_all, alpha=0.1, lam=lam)
    interval = ppi_interval(y, f, f_all, lam, level=0.9)
    assert (interval.low, interval.high) == pytest.approx((float(np.squeeze(low)), float(np.squeeze(high))), abs=1e-9)
    estimate = float(np.squeeze(ppi_py.ppi_mean_pointestimate(y, f, f_all, lam=lam)))
    assert ppi_estimate(y, f, f_all, lam) == pytest.approx(estimate, abs=1e-9)


def test_lambda_is_clipped_and_zero_for_constant_predictions() -> None:
    y = np.array([0.0, 1.0, 1.0, 0.0])
    assert power_tuning_lambda(y, 1 - y, np.r_[1 - y, 0, 1]) == 0.0  # anti-correlated: clipped to 0
    assert power_tuning_lambda(y, np.full(4, 0.5), np.full(9, 0.5)) == 0.0


def test_lambda_zero_is_the_classical_interval() -> None:
    y, f, f_all = _draw(np.random.default_rng(3), 50, 400)
    at_zero = ppi_interval(y, f, f_all, 0.0, 0.95)
    classical = classical_interval(y, 0.95)
    assert (at_zero.estimate, at_zero.low, at_zero.high) == pytest.approx(
        (classical.estimate, classical.low, classical.high), abs=1e-12
    )
    half = norm.ppf(0.975) * y.std() / np.sqrt(y.size)
    assert (classical.low, classical.high) == pytest.approx((y.mean() - half, y.mean() + half), abs=1e-12)


def test_coverage_of_one_thousand_draws() -> None:
    """>= 93% of 1,000 draws at level 0.95 cover the population mean (vectorised over draws)."""
    rng = np.random.default_rng(2025)
    big_n, n, draws = 2_000, 100, 1_000
    truth = rng.choice([0.0, 0.5, 1.0], size=big_n, p=[0.35, 0.15, 0.5])
    judge = np.clip(truth + rng.normal(0.1, 0.35, size=big_n), 0, 1)  # biased and noisy
    target = truth.mean()
    labelled = np.argsort(rng.random((draws, big_n)), axis=1)[:, :n]
    y, f = truth[labelled], judge[labelled]
    # the same formulas as the module, over every draw at once (each row checked below for a few draws)
    covariance = ((y - y.mean(1, keepdims=True)) * (f - f.mean(1, keepdims=True))).mean(1)
    pooled = np.concatenate([f, np.broadcast_to(judge, (draws, big_n))], axis=1).var(1, ddof=1)
    lam = np.clip(covariance / ((1 + n / big_n) * pooled), 0, 1)
    estimate = lam * judge.mean() + (y - lam[:, None] * f).mean(1)
    std = np.sqrt((lam**2) * judge.var() / big_n + (y - lam[:, None] * f).var(1) / n)
    half = norm.ppf(0.975) * std
    for row in range(3):
        one = prediction_powered_mean(y[row], f[row], judge, 0.95)
        assert (one.lam, one.combined.low, one.combined.high) == pytest.approx(
            (lam[row], estimate[row] - half[row], estimate[row] + half[row]), abs=1e-12
        )
    covered = np.mean((estimate - half <= target) & (target <= estimate + half))
    assert covered >= 0.93


def test_combined_is_narrower_when_the_judge_correlates() -> None:
    y, f, f_all = _draw(np.random.default_rng(7), 100, 800, noise=0.2)
    result = prediction_powered_mean(y, f, f_all, 0.95)
    assert result.combined.width < result.human_only.width
    assert result.effective_n_humans > 100
    assert result.effective_n_humans == pytest.approx(100 * (result.human_only.width / result.combined.width) ** 2)


def test_effective_n_humans() -> None:
    assert effective_n_humans(100, 0.2, 0.1) == pytest.approx(400)
