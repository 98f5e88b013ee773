"""Active statistical inference (Zrnic & Candès, "Active Statistical Inference", ICML 2024): human labels
spent where the judge is unsure, and an estimate that stays unbiased for the humans' mean over all N items.

Picking the K most uncertain items outright and feeding them to PPI would bias the estimate (those items
are not a sample of the N). Instead K draws are made WITH replacement, draw j taking item i with
probability p_i = (1 - eps) u_i / sum(u) + eps / N (u_i >= 0 the item's uncertainty; eps > 0 keeps
every weight 1 / (N p_i) at most 1 / eps), and the Hansen–Hurwitz form of PPI weights each draw by
1 / (N p):

    theta = lam * mean_all(f) + (1/K) * sum_j (y_j - lam * f_j) / (N p_j)

Each draw term z_j = (y_j - lam f_j) / (N p_j) has mean (1/N) sum_i (y_i - lam f_i), so theta is
unbiased for mean_i(y_i) for any fixed lam. Its variance is var(z) / K + lam^2 var(f) / N: the draws'
term plus, as PPI++ counts it (prediction_powered.py), the judge term's (the N items read as a sample
of the items the judge could have seen). lam minimises that sum: cov(a, b) / (var(b) + (K / N) var(f))
with a = y / (N p), b = f / (N p), clipped to [0, 1]. Standard deviations use ddof=0, as PPI++ here does,
so with uniform p (N p = 1) the interval is PPI++'s formula on a with-replacement sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from evalkit.stats.prediction_powered import Interval

DEFAULT_EPS = 0.1  # the uniform share of every draw: weights stay at most 1 / eps


def sampling_probabilities(uncertainty: ArrayLike, eps: float = DEFAULT_EPS) -> NDArray[np.float64]:
    """p_i = (1 - eps) u_i / sum(u) + eps / N; uniform when no item is uncertain (sum(u) = 0)."""
    scores = np.asarray(uncertainty, dtype=float).ravel()
    if scores.size < 1:
        raise ValueError("need at least one item")
    if not np.all(np.isfinite(scores)) or np.any(scores < 0):
        raise ValueError("uncertainty scores must be finite and non-negative")
    if not 0 < eps <= 1:
        raise ValueError("eps must be in (0, 1]")
    uniform = np.full(scores.size, 1.0 / scores.size)
    total = float(scores.sum())
    if total <= 0:
        return uniform
    return (1 - eps) * scores / total + eps * uniform


@dataclass(frozen=True)
class Draws:
    """The distinct items drawn (indices into the N items, ascending) and how often each was drawn."""

    items: NDArray[np.int64]
    draws: NDArray[np.int64]

    @property
    def n_draws(self) -> int:
        return int(self.draws.sum())


def draw_items(probabilities: ArrayLike, k: int, seed: int | None) -> Draws:
    """K seeded draws with replacement; an item drawn twice is one item with draws = 2."""
    p = np.asarray(probabilities, dtype=float).ravel()
    if k < 1:
        raise ValueError("need at least one draw")
    if np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError("probabilities must be non-negative and sum to 1")
    drawn = np.random.default_rng(seed).choice(p.size, size=k, replace=True, p=p / p.sum())
    items, counts = np.unique(drawn, return_counts=True)
    return Draws(items.astype(np.int64), counts.astype(np.int64))


@dataclass(frozen=True)
class _DrawTerms:
    """One row per draw (an item drawn twice gives two rows): y / (N p), f / (N p), and the judge on all N."""

    weighted_y: NDArray[np.float64]
    weighted_f: NDArray[np.float64]
    f_all: NDArray[np.float64]


def _terms(y: ArrayLike, f_drawn: ArrayLike, p_drawn: ArrayLike, draws: ArrayLike, f_all: ArrayLike) -> _DrawTerms:
    gold, judged, p, counts, every = (np.asarray(a, dtype=float).ravel() for a in (y, f_drawn, p_drawn, draws, f_all))
    if not gold.shape == judged.shape == p.shape == counts.shape:
        raise ValueError("y, f_drawn, p_drawn and draws must have one value per drawn item")
    if np.any(p <= 0) or np.any(p > 1):
        raise ValueError("draw probabilities must be in (0, 1]")
    if np.any(counts < 1) or np.any(counts != np.round(counts)):
        raise ValueError("draws must be whole numbers of at least 1")
    if counts.sum() < 2 or every.size < 1:
        raise ValueError("need at least 2 draws and 1 predicted item")
    repeat = counts.astype(int)
    weight = 1.0 / (every.size * p)
    return _DrawTerms(np.repeat(gold * weight, repeat), np.repeat(judged * weight, repeat), every)


def _lambda(terms: _DrawTerms) -> float:
    a, b, f = terms.weighted_y, terms.weighted_f, terms.f_all
    covariance = float(np.mean((a - a.mean()) * (b - b.mean())))
    denominator = float(np.var(b) + a.size / f.size * np.var(f))
    if denominator <= 0:
        return 0.0
    return float(np.clip(covariance / denominator, 0.0, 1.0))


def active_lambda(y: ArrayLike, f_drawn: ArrayLike, p_drawn: ArrayLike, draws: ArrayLike, f_all: ArrayLike) -> float:
    """The lam that minimises the estimate's variance (see the module's docstring), clipped to [0, 1];
    0 when the judge's predictions do not vary."""
    return _lambda(_terms(y, f_drawn, p_drawn, draws, f_all))


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    return float(norm.ppf(0.5 + level / 2))


def _interval(terms: _DrawTerms, lam: float, level: float) -> Interval:
    z_terms = terms.weighted_y - lam * terms.weighted_f
    estimate = float(lam * terms.f_all.mean() + z_terms.mean())
    std = float(np.sqrt(np.var(z_terms) / z_terms.size + lam**2 * np.var(terms.f_all) / terms.f_all.size))
    half = _z(level) * std
    return Interval(estimate, estimate - half, estimate + half)


def active_interval(
    y: ArrayLike, f_drawn: ArrayLike, p_drawn: ArrayLike, draws: ArrayLike, f_all: ArrayLike, lam: float, level: float = 0.95
) -> Interval:
    """The Hansen–Hurwitz PPI estimate for this lam with its CLT interval.

    Per drawn item: `y` its gold label (the humans' mean), `f_drawn` the judge's prediction, `p_drawn`
    its per-draw probability, `draws` how often it was drawn; `f_all` the judge on all N items (the
    population the probabilities were made over)."""
    return _interval(_terms(y, f_drawn, p_drawn, draws, f_all), lam, level)


@dataclass(frozen=True)
class ActiveMean:
    combined: Interval
    lam: float
    n_items: int  # distinct items labelled
    n_draws: int  # K: draws, counting repeats


def active_mean(
    y: ArrayLike, f_drawn: ArrayLike, p_drawn: ArrayLike, draws: ArrayLike, f_all: ArrayLike, level: float = 0.95
) -> ActiveMean:
    """Active inference with the variance-minimising lam: the humans' mean over all N items, unbiased
    under the unequal-probability design that drew the labelled items."""
    terms = _terms(y, f_drawn, p_drawn, draws, f_all)
    lam = _lambda(terms)
    return ActiveMean(_interval(terms, lam, level), lam, int(np.asarray(draws).size), int(terms.weighted_y.size))
