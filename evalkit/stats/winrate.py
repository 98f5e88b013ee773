"""AlpacaEval's win rate, exactly as alpaca_eval 0.6.6 computes it, without pandas per call.

The reference is `alpaca_eval.metrics.get_winrate`: the absolute scoring rule's `describe_head2head`
for the first six fields and the zero-one rule's win rate for `discrete_win_rate`
(alpaca_eval/metrics/helpers.py). Its conventions, kept here bit for bit:

- preference 1 = output_1 (the baseline) wins, 2 = output_2 (the model) wins, 1.5 = tie, and the
  legacy 0 is also a tie; anything in [1, 2] is allowed (weighted judges give e.g. 1.0000004);
- `n_draws` counts ties *before* invalid rows are dropped; NaN and values outside [1, 2] are dropped;
- `win_rate` = 100 * mean(preference - 1), `standard_error` = 100 * its standard error (ddof 1);
- `discrete_win_rate` rounds each preference half-to-even (numpy/pandas `round`) after mapping an
  exact 1.5 to 0 and back to a tie, so 1.7 counts as a win and 1.3 as a loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from evalkit.core.vocabulary import PREFERENCE

WINRATE_FIELDS: tuple[str, ...] = (
    "win_rate",
    "standard_error",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "discrete_win_rate",
)

# The AlpacaEval preference of a resolved pairwise outcome (the model is output_2, the baseline output_1).
OUTCOME_PREFERENCE = PREFERENCE


def as_preferences(values: Iterable[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """Float array of preferences; None, empty and non-numeric entries become NaN (dropped later)."""
    return pd.to_numeric(
        pd.Series(list(values) if not isinstance(values, (np.ndarray, pd.Series)) else values), errors="coerce"
    ).to_numpy(dtype=np.float64)


def preferences_from_outcomes(outcomes: Iterable[str | None]) -> np.ndarray:
    """'win' / 'tie' / 'loss' -> 2 / 1.5 / 1; anything else (invalid, missing) -> NaN."""
    return np.array([OUTCOME_PREFERENCE.get(o, np.nan) if isinstance(o, str) else np.nan for o in outcomes], dtype=np.float64)


def _mean_and_sem(x: np.ndarray) -> tuple[float, float]:
    if x.size == 0:
        return math.nan, math.nan
    mean = float(x.mean())
    sem = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    return mean, sem


def discrete_preferences(preferences: np.ndarray) -> np.ndarray:
    """AlpacaEval's zero-one view of each preference: 1, 1.5 or 2, NaN where it drops the row."""
    with np.errstate(invalid="ignore"):
        rounded = np.where(preferences == 1.5, 0.0, np.round(preferences))
    rounded = np.where(rounded == 0, 1.5, rounded)
    return np.where((rounded >= 1) & (rounded <= 2), rounded, np.nan)


def alpaca_winrate(preferences: Iterable[Any] | np.ndarray | pd.Series) -> dict[str, float | int]:
    """The seven head-to-head fields of AlpacaEval's leaderboard (win rates in percent)."""
    p = as_preferences(preferences)
    p = np.where(p == 0, 1.5, p)
    n_draws = int(np.count_nonzero(p == 1.5))
    with np.errstate(invalid="ignore"):
        x = p[(p >= 1) & (p <= 2)] - 1
    mean, sem = _mean_and_sem(x)
    discrete = discrete_preferences(p)
    discrete = discrete[~np.isnan(discrete)] - 1
    return {
        "win_rate": mean * 100,
        "standard_error": sem * 100,
        "n_wins": int(np.count_nonzero(x > 0.5)),
        "n_wins_base": int(np.count_nonzero(x < 0.5)),
        "n_draws": n_draws,
        "n_total": int(x.size),
        "discrete_win_rate": float(discrete.mean()) * 100 if discrete.size else math.nan,
    }


def preference_unit(preferences: Iterable[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """Preferences on [0, 1] (1 = the model wins), NaN where AlpacaEval would drop the row; the
    quantity every win-rate bootstrap and paired comparison averages."""
    p = as_preferences(preferences)
    p = np.where(p == 0, 1.5, p)
    with np.errstate(invalid="ignore"):
        return np.where((p >= 1) & (p <= 2), p - 1, np.nan)


def dropped_preferences(preferences: Iterable[Any] | np.ndarray | pd.Series) -> tuple[int, list[float]]:
    """(rows without a number, out-of-range numbers) that AlpacaEval's win rate leaves out: what a
    user must be told, since the win rate itself is silently over fewer rows."""
    p = as_preferences(preferences)
    missing = int(np.isnan(p).sum())
    numbers = p[~np.isnan(p)]
    with np.errstate(invalid="ignore"):
        kept = (numbers == 0) | ((numbers >= 1) & (numbers <= 2))
    return missing, [float(v) for v in numbers[~kept]]
