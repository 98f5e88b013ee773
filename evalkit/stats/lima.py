"""LIMA's summaries: win / tie / loss shares against a baseline (Figures 1-2) and the 6-point Likert
helpfulness score (mean, 95% bootstrap interval, distribution)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TypedDict

import numpy as np
import pandas as pd

from evalkit.core.vocabulary import OUTCOMES as OUTCOMES
from evalkit.stats.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, bootstrap_mean_interval

LIKERT_SCALE: tuple[int, ...] = (1, 2, 3, 4, 5, 6)


class WinTieLoss(TypedDict):
    n: int
    n_invalid: int
    win_pct: float
    tie_pct: float
    loss_pct: float


class LikertSummary(TypedDict):
    n: int
    n_invalid: int
    mean: float
    ci_low: float
    ci_high: float
    distribution: dict[int, float]


def win_tie_loss(outcomes: Iterable[str | None]) -> WinTieLoss:
    """Percent of valid judgments the model won, tied and lost; anything else counts as invalid."""
    values = pd.Series(outcomes if isinstance(outcomes, (pd.Series, np.ndarray)) else list(outcomes), dtype=object)
    tally = values.value_counts()
    counts = {name: int(tally.get(name, 0)) for name in OUTCOMES}
    n = sum(counts.values())
    share = (lambda k: 100.0 * counts[k] / n) if n else (lambda k: math.nan)
    return {
        "n": n,
        "n_invalid": int(values.size - n),
        "win_pct": share("win"),
        "tie_pct": share("tie"),
        "loss_pct": share("loss"),
    }


def score_distribution(scores: np.ndarray, scale: Sequence[int] = LIKERT_SCALE) -> dict[int, float]:
    """Fraction of valid scores at each point of the scale (LIMA's 1-6)."""
    valid = scores[~np.isnan(scores)]
    if valid.size == 0:
        return {point: math.nan for point in scale}
    return {point: float(np.count_nonzero(valid == point) / valid.size) for point in scale}


def likert_summary(
    scores: Iterable[float | None] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    scale: Sequence[int] = LIKERT_SCALE,
) -> LikertSummary:
    """Mean Likert score with a percentile bootstrap interval; NaN scores are invalid judgments.

    With `clusters` (the prompt of each score) whole prompts are resampled, so several samples or
    judge calls per prompt do not pass for independent evidence."""
    values = np.asarray(
        [math.nan if s is None else s for s in scores] if not isinstance(scores, np.ndarray) else scores, dtype=np.float64
    )
    valid = ~np.isnan(values)
    n = int(np.count_nonzero(valid))
    mean = float(values[valid].mean()) if n else math.nan
    low, high = bootstrap_mean_interval(values, clusters, n_resamples, level, seed) if n else (math.nan, math.nan)
    return {
        "n": n,
        "n_invalid": int(values.size - n),
        "mean": mean,
        "ci_low": low,
        "ci_high": high,
        "distribution": score_distribution(values, scale),
    }
