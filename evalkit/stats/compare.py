"""Is checkpoint A better than checkpoint B on the same prompts? Paired tests only: both were asked
the same questions, so per-prompt differences cancel prompt difficulty out.

- paired bootstrap of the difference in means (win rate: preferences on [0, 1]; or Likert scores);
- sign test (binomial, ties excluded) via scipy.stats.binomtest;
- Wilcoxon signed-rank via scipy.stats.wilcoxon (zero differences dropped, its default).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

import numpy as np

from evalkit.stats.bootstrap import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    cluster_codes,
    percentile_interval,
    ratio_of_sums,
    resampled_sums,
)


class PairedDifference(TypedDict):
    n: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float


class SignTest(TypedDict):
    n_a_better: int
    n_b_better: int
    n_equal: int
    p_value: float


class Wilcoxon(TypedDict):
    n: int
    statistic: float
    p_value: float


def _as_columns(values: np.ndarray | Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array[:, None] if array.ndim == 1 else array


def paired_bootstrap_difference(
    a: np.ndarray | Sequence[float],
    b: np.ndarray | Sequence[float],
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    clusters: Sequence[object] | np.ndarray | None = None,
) -> PairedDifference:
    """Bootstrap interval of mean(a) - mean(b) over rows where both are valid (not NaN); `a` and `b`
    are aligned per prompt, shape (n,). `p_value` is the two-sided bootstrap p-value, twice the
    smaller share of resampled differences on either side of 0 (capped at 1)."""
    if np.ndim(a) != 1:
        raise ValueError("paired_bootstrap_difference compares two columns; use paired_bootstrap_differences for matrices")
    return paired_bootstrap_differences(a, b, n_resamples, level, seed, clusters)[0]


def paired_bootstrap_differences(
    a: np.ndarray | Sequence[float],
    b: np.ndarray | Sequence[float],
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    clusters: Sequence[object] | np.ndarray | None = None,
) -> list[PairedDifference]:
    """paired_bootstrap_difference for k comparisons at once, shape (n, k): they share one set of
    resamples, so k comparisons cost about one."""
    left, right = _as_columns(a), _as_columns(b)
    if left.shape != right.shape:
        raise ValueError(f"paired samples must have the same shape, got {left.shape} and {right.shape}")
    n_rows, k = left.shape
    results = [_paired_result(left[:, j], right[:, j]) for j in range(k)]
    if n_rows and any(result["n"] for result in results):
        both = ~np.isnan(left) & ~np.isnan(right)
        diff, weight = np.where(both, left - right, 0.0), both.astype(np.float64)
        if clusters is not None:  # a prompt's rows move together: sum them into one cluster row
            codes = cluster_codes(clusters)
            diff = np.stack([np.bincount(codes, weights=diff[:, j]) for j in range(k)], axis=1)
            weight = np.stack([np.bincount(codes, weights=weight[:, j]) for j in range(k)], axis=1)
        sums = resampled_sums(np.hstack([diff, weight]), n_resamples, seed)
        resampled = ratio_of_sums(sums[:, :k], sums[:, k:])
        low, high = percentile_interval(resampled, level)
        for j, result in enumerate(results):
            draws = resampled[:, j][~np.isnan(resampled[:, j])]
            if result["n"] and draws.size:
                result["ci_low"], result["ci_high"] = float(low[j]), float(high[j])
                result["p_value"] = float(min(1.0, 2.0 * min(np.mean(draws <= 0), np.mean(draws >= 0))))
    return results


def _paired_result(a: np.ndarray, b: np.ndarray) -> PairedDifference:
    """Point estimates over the pairs where both sides are valid; interval fields start as NaN."""
    both = ~np.isnan(a) & ~np.isnan(b)
    n = int(np.count_nonzero(both))
    return {
        "n": n,
        "mean_a": float(a[both].mean()) if n else math.nan,
        "mean_b": float(b[both].mean()) if n else math.nan,
        "difference": float((a[both] - b[both]).mean()) if n else math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "p_value": math.nan,
    }


def sign_test(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float]) -> SignTest:
    """Two-sided binomial sign test of P(a > b) = 1/2 over pairs that differ (ties excluded).

    With no differing pair there is no evidence either way: p = 1."""
    from scipy.stats import binomtest

    left, right = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = ~np.isnan(left) & ~np.isnan(right)
    diff = left[both] - right[both]
    n_a, n_b = int(np.count_nonzero(diff > 0)), int(np.count_nonzero(diff < 0))
    p_value = float(binomtest(n_a, n_a + n_b, 0.5).pvalue) if n_a + n_b else 1.0
    return {"n_a_better": n_a, "n_b_better": n_b, "n_equal": int(diff.size - n_a - n_b), "p_value": p_value}


def wilcoxon_signed_rank(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float]) -> Wilcoxon:
    """scipy's Wilcoxon signed-rank test on paired scores (e.g. Likert), pairs with a NaN dropped.

    `n` counts the non-zero differences the test uses; with none, p = 1 and the statistic is NaN."""
    from scipy.stats import wilcoxon

    left, right = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = ~np.isnan(left) & ~np.isnan(right)
    diff = left[both] - right[both]
    nonzero = int(np.count_nonzero(diff))
    if nonzero == 0:
        return {"n": 0, "statistic": math.nan, "p_value": 1.0}
    result = wilcoxon(left[both], right[both])
    return {"n": nonzero, "statistic": float(result.statistic), "p_value": float(result.pvalue)}
