"""Prediction-powered mean estimation (PPI++: Angelopoulos, Duchi & Zrnic 2023, arXiv:2311.01453).

A few gold labels `y` (humans) with the judge's predictions `f_labelled` on the same items, and the judge's
predictions `f_all` on every item, estimate the mean gold label over every item:
    theta = mean(lambda * f_all) + mean(y - lambda * f_labelled),
unbiased for any lambda; the power-tuning lambda minimises its variance (clipped to [0, 1]: 0 is the
classical mean of `y`, 1 is plain PPI). Standard deviations use ddof=0, as `ppi_py` does, so the figures
match the authors' implementation (`ppi_py.ppi_mean_ci`) exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


def _arrays(y: ArrayLike, f_labelled: ArrayLike, f_all: ArrayLike) -> tuple[NDArray[np.float64], ...]:
    gold, labelled, unlabelled = (np.asarray(a, dtype=float).ravel() for a in (y, f_labelled, f_all))
    if gold.shape != labelled.shape:
        raise ValueError("y and f_labelled must have one value per labelled item")
    if gold.size < 2 or unlabelled.size < 1:
        raise ValueError("need at least 2 labelled items and 1 predicted item")
    return gold, labelled, unlabelled


def power_tuning_lambda(y: ArrayLike, f_labelled: ArrayLike, f_all: ArrayLike) -> float:
    """The variance-minimising lambda, cov(y, f) / ((1 + n/N) var(f)), clipped to [0, 1]; 0 when the
    predictions do not vary (they carry no information then)."""
    gold, labelled, unlabelled = _arrays(y, f_labelled, f_all)
    n, big_n = gold.size, unlabelled.size
    covariance = float(np.mean((gold - gold.mean()) * (labelled - labelled.mean())))
    # var of the predictions over both samples pooled, ddof=1 (np.cov), as the paper's estimator does
    variance = float(np.var(np.concatenate([labelled, unlabelled]), ddof=1))
    if variance <= 0:
        return 0.0
    return float(np.clip(covariance / ((1 + n / big_n) * variance), 0.0, 1.0))


def ppi_estimate(y: ArrayLike, f_labelled: ArrayLike, f_all: ArrayLike, lam: float) -> float:
    """mean(lam * f_all) + mean(y - lam * f_labelled)."""
    gold, labelled, unlabelled = _arrays(y, f_labelled, f_all)
    return float(np.mean(lam * unlabelled) + np.mean(gold - lam * labelled))


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    return float(norm.ppf(0.5 + level / 2))


def ppi_interval(y: ArrayLike, f_labelled: ArrayLike, f_all: ArrayLike, lam: float, level: float = 0.95) -> Interval:
    """The estimate with its CLT interval: the two terms' variances added (ddof=0)."""
    gold, labelled, unlabelled = _arrays(y, f_labelled, f_all)
    estimate = ppi_estimate(gold, labelled, unlabelled, lam)
    std = float(np.sqrt(np.var(lam * unlabelled) / unlabelled.size + np.var(gold - lam * labelled) / gold.size))
    half = _z(level) * std
    return Interval(estimate, estimate - half, estimate + half)


def classical_interval(y: ArrayLike, level: float = 0.95) -> Interval:
    """The mean of the gold labels alone with its CLT interval (the same rule as lam = 0)."""
    gold = np.asarray(y, dtype=float).ravel()
    if gold.size < 2:
        raise ValueError("need at least 2 labelled items")
    estimate = float(gold.mean())
    half = _z(level) * float(np.std(gold)) / np.sqrt(gold.size)
    return Interval(estimate, estimate - half, estimate + half)


def effective_n_humans(n_humans: int, human_only_width: float, combined_width: float) -> float:
    """The gold sample size whose classical interval would be as wide as the combined one (width ~ 1/sqrt(n))."""
    if combined_width <= 0:
        return float("inf") if human_only_width > 0 else float(n_humans)
    return float(n_humans * (human_only_width / combined_width) ** 2)


@dataclass(frozen=True)
class PredictionPowered:
    combined: Interval
    lam: float
    human_only: Interval
    effective_n_humans: float


def prediction_powered_mean(y: ArrayLike, f_labelled: ArrayLike, f_all: ArrayLike, level: float = 0.95) -> PredictionPowered:
    """PPI++ with the power-tuning lambda, beside the classical interval from the gold labels alone."""
    lam = power_tuning_lambda(y, f_labelled, f_all)
    combined = ppi_interval(y, f_labelled, f_all, lam, level)
    human_only = classical_interval(y, level)
    n_humans = np.asarray(y).size
    return PredictionPowered(combined, lam, human_only, effective_n_humans(n_humans, human_only.width, combined.width))
