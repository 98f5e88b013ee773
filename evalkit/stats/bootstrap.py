"""The one bootstrap every summary shares: resample clusters (prompts) with replacement, as counts.

A resample is a vector of multinomial counts over the n clusters, so the resampled sum of any column
is one matrix product `counts @ column`. Every statistic here is a ratio of such sums (a mean over
valid rows, a win count over battles), so thousands of resamples of dozens of statistics cost a
single BLAS call instead of a Python loop. The same seed gives the same resamples, which keeps
statistics computed in different calls paired with each other.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

DEFAULT_RESAMPLES = 10_000
DEFAULT_LEVEL = 0.95
_CHUNK_ELEMENTS = 200_000  # counts generated per block: small enough for the bincount to stay in cache
_CACHE_ELEMENTS = 10_000_000  # resample matrices up to this size are kept for the next caller (~80 MB)


def _count_blocks(n_clusters: int, n_resamples: int, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """Blocks of multinomial counts (row i = how often each cluster was drawn in resample i), with
    their first row index; the blocks concatenate to the same matrix however they are consumed."""
    rng = np.random.default_rng(seed)
    rows_per_block = max(1, _CHUNK_ELEMENTS // max(n_clusters, 1))
    for start in range(0, n_resamples, rows_per_block):
        rows = min(rows_per_block, n_resamples - start)
        draws = rng.integers(0, n_clusters, size=(rows, n_clusters), dtype=np.int64)
        draws += (np.arange(rows, dtype=np.int64) * n_clusters)[:, None]
        block = np.bincount(draws.ravel(), minlength=rows * n_clusters).reshape(rows, n_clusters)
        yield start, block.astype(np.float64)


def _multinomial_counts(n_clusters: int, n_resamples: int, seed: int) -> np.ndarray:
    counts = np.empty((n_resamples, n_clusters), dtype=np.float64)
    for start, block in _count_blocks(n_clusters, n_resamples, seed):
        counts[start : start + block.shape[0]] = block
    return counts


@lru_cache(maxsize=1)
def _cached_counts(n_clusters: int, n_resamples: int, seed: int) -> np.ndarray:
    counts = _multinomial_counts(n_clusters, n_resamples, seed)
    counts.setflags(write=False)
    return counts


def resample_counts(n_clusters: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """Multinomial bootstrap counts, (n_resamples, n_clusters); read-only, reused while (n, B, seed) repeat."""
    if n_clusters < 1 or n_resamples < 1:
        raise ValueError(f"bootstrap needs at least one cluster and one resample, got {n_clusters} and {n_resamples}")
    if n_clusters * n_resamples <= _CACHE_ELEMENTS:
        return _cached_counts(n_clusters, n_resamples, seed)
    return _multinomial_counts(n_clusters, n_resamples, seed)


def resampled_sums(columns: np.ndarray, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """Sums of each column of `columns` (n_clusters, m) over every resample: (n_resamples, m).

    Large problems are processed in blocks of resamples so memory stays bounded; the blocks draw from
    the same generator, so the result does not depend on the block size."""
    columns = np.asarray(columns, dtype=np.float64)
    if columns.ndim == 1:
        columns = columns[:, None]
    n_clusters = columns.shape[0]
    if n_clusters * n_resamples <= _CACHE_ELEMENTS:
        return resample_counts(n_clusters, n_resamples, seed) @ columns
    sums = np.empty((n_resamples, columns.shape[1]), dtype=np.float64)
    for start, block in _count_blocks(n_clusters, n_resamples, seed):
        sums[start : start + block.shape[0]] = block @ columns
    return sums


def cluster_sums(values: np.ndarray, clusters: Sequence[object] | np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster (sum of valid values, number of valid values); NaN values count as missing.

    Without clusters every row is its own cluster (the ordinary bootstrap)."""
    values = np.asarray(values, dtype=np.float64)
    valid = ~np.isnan(values)
    if clusters is None:
        return np.where(valid, values, 0.0), valid.astype(np.float64)
    codes = cluster_codes(clusters)
    n = int(codes.max()) + 1 if codes.size else 0
    sums = np.bincount(codes, weights=np.where(valid, values, 0.0), minlength=n)
    counts = np.bincount(codes, weights=valid.astype(np.float64), minlength=n)
    return sums, counts


def cluster_codes(clusters: Sequence[object] | np.ndarray) -> np.ndarray:
    """Dense integer codes 0..k-1 for cluster labels, in the labels' sorted order. Each resample's counts
    go to clusters by code, so the numbering decides which prompt draws which count: sorted, an interval
    depends only on the rows' values, not on their order (in order of first appearance, the same
    judgments stored in another order, as concurrent requests finish, gave another interval)."""
    codes, _ = pd.factorize(np.asarray(clusters, dtype=object), sort=True)
    if (codes < 0).any():
        raise ValueError("cluster labels must not be missing")
    return codes.astype(np.int64)


def ratio_of_sums(numerators: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    """numerators / denominators, NaN where the denominator is 0 (a resample with no valid rows)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominators > 0, numerators / np.where(denominators > 0, denominators, 1.0), np.nan)


def percentile_interval(samples: np.ndarray, level: float = DEFAULT_LEVEL, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval (the method scipy.stats.bootstrap calls 'percentile')."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column has a NaN interval, which is the answer
        low = np.nanpercentile(samples, 100 * alpha, axis=axis)
        high = np.nanpercentile(samples, 100 * (1 - alpha), axis=axis)
    return low, high


def bootstrap_mean_interval(
    values: np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """95% (by default) percentile interval of the mean of the non-NaN values, resampling clusters."""
    sums, counts = cluster_sums(values, clusters)
    if counts.sum() == 0:
        return float("nan"), float("nan")
    resampled = resampled_sums(np.column_stack([sums, counts]), n_resamples, seed)
    low, high = percentile_interval(ratio_of_sums(resampled[:, 0], resampled[:, 1]), level)
    return float(low), float(high)
