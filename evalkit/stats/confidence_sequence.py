"""An anytime-valid confidence sequence for the mean of observations in [0, 1]: the betting confidence
sequence of Waudby-Smith & Ramdas (2023, JRSS-B, "Estimating means of bounded random variables by
betting"), with their hedged capital process and predictable plug-in bets (Theorem 3, eq. 26).

For a candidate mean m, a gambler bets on "the mean is above m" and on "below m":
    K+_t(m) = prod_{i<=t} (1 + l+_i(m) (x_i - m)),   l+_i(m) = min(l_i, c / m)
    K-_t(m) = prod_{i<=t} (1 - l-_i(m) (x_i - m)),   l-_i(m) = min(l_i, c / (1 - m))
    K_t(m)  = theta K+_t(m) + (1 - theta) K-_t(m)
where the bet l_i is chosen before x_i is seen (predictable plug-in):
    l_t = sqrt(2 log(2 / alpha) / (s2_{t-1} t log(1 + t))),
    mu_t = (1/2 + sum_{i<=t} x_i) / (t + 1),  s2_t = (1/4 + sum_{i<=t} (x_i - mu_i)^2) / (t + 1).
At the true mean K_t is a non-negative martingale starting at 1, so by Ville's inequality it ever
reaches 1/alpha with probability at most alpha: the set {m : K_s(m) < 1/alpha for every s <= t} (the
running intersection) covers the mean at every t at once, which is what lets a run look after every
label and stop. Computed in log space on a grid of candidate means, vectorised over streams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Truncation c and the hedge's weight theta: the paper's defaults (c = 1/2 keeps every factor >= 1/2).
TRUNCATION = 0.5
HEDGE_WEIGHT = 0.5
GRID_POINTS = 1000
NULL_MEAN = 0.5


def mean_grid(points: int = GRID_POINTS) -> np.ndarray:
    """Candidate means: `points` + 1 equally spaced values on [0, 1], and the null mean 0.5 exactly."""
    grid = np.linspace(0.0, 1.0, points + 1)
    return np.union1d(grid, [NULL_MEAN])


def _check(x: np.ndarray, alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if x.size and (np.nanmin(x) < 0.0 or np.nanmax(x) > 1.0 or np.isnan(x).any()):
        raise ValueError("observations must lie in [0, 1]")


def plug_in_bets(x: np.ndarray, alpha: float) -> np.ndarray:
    """The predictable plug-in bet l_t for every t (last axis = time): it uses x_1..x_{t-1} only."""
    x = np.asarray(x, dtype=float)
    _check(x, alpha)
    t = np.arange(1, x.shape[-1] + 1, dtype=float)
    running_mean = (0.5 + np.cumsum(x, axis=-1)) / (t + 1)
    running_variance = (0.25 + np.cumsum((x - running_mean) ** 2, axis=-1)) / (t + 1)
    previous_variance = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), running_variance[..., :-1]], axis=-1)
    return np.sqrt(2.0 * np.log(2.0 / alpha) / (previous_variance * t * np.log1p(t)))


def hedged_log_capital(x: np.ndarray, means: np.ndarray, alpha: float) -> np.ndarray:
    """log K_t(m) for every t and candidate mean m: shape x.shape + (len(means),)."""
    x = np.asarray(x, dtype=float)
    means = np.asarray(means, dtype=float)
    bets = plug_in_bets(x, alpha)[..., None]
    with np.errstate(divide="ignore"):  # c / 0 = inf: no truncation on that side
        up = np.minimum(bets, TRUNCATION / means)
        down = np.minimum(bets, TRUNCATION / (1.0 - means))
    excess = x[..., None] - means
    log_up = np.cumsum(np.log1p(up * excess), axis=-2)
    log_down = np.cumsum(np.log1p(-down * excess), axis=-2)
    return np.logaddexp(np.log(HEDGE_WEIGHT) + log_up, np.log(1.0 - HEDGE_WEIGHT) + log_down)


def first_exclusion(x: np.ndarray, alpha: float, null: float = NULL_MEAN) -> np.ndarray:
    """For each stream (rows of x, time along the last axis): how many observations were read when the
    sequence first excluded `null` (its capital reached 1/alpha), 0 where it never did."""
    crossed = hedged_log_capital(x, np.array([null]), alpha)[..., 0] >= np.log(1.0 / alpha)
    return np.where(crossed.any(axis=-1), crossed.argmax(axis=-1) + 1, 0)


def running_intervals(x: np.ndarray, alpha: float, grid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The confidence sequence of one stream as intervals (low_t, high_t) for t = 1..n: the smallest and largest
    grid means never excluded up to t (so the null 0.5, on the grid, is outside exactly when it was excluded;
    the edges are exact to the grid's step). Where every grid mean is excluded (probability below alpha) the
    interval collapses on the least rejected mean."""
    means = mean_grid() if grid is None else np.asarray(grid, dtype=float)
    log_capital = hedged_log_capital(np.asarray(x, dtype=float)[None, :], means, alpha)[0]
    excluded = np.maximum.accumulate(log_capital >= np.log(1.0 / alpha), axis=0)
    kept = ~excluded
    any_kept = kept.any(axis=1)
    first = kept.argmax(axis=1)
    last = means.size - 1 - kept[:, ::-1].argmax(axis=1)
    low, high = means[first], means[last]
    least_rejected = means[np.maximum.accumulate(log_capital, axis=0).argmin(axis=1)]
    return np.where(any_kept, low, least_rejected), np.where(any_kept, high, least_rejected)


@dataclass(frozen=True)
class SequenceOutcome:
    """One stream followed until its sequence excluded the null mean (or to its end)."""

    n: int
    decided: bool
    n_used: int
    ci_low: float
    ci_high: float

    @property
    def above_null(self) -> bool:
        return self.decided and self.ci_low > NULL_MEAN


def follow(x: np.ndarray, alpha: float, null: float = NULL_MEAN) -> SequenceOutcome:
    """Follow one stream's confidence sequence; stop at the first exclusion of `null`."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("a stream needs at least one observation")
    stop = int(first_exclusion(x, alpha, null))
    n_used = stop or x.size
    low, high = running_intervals(x[:n_used], alpha)
    return SequenceOutcome(n=x.size, decided=stop > 0, n_used=n_used, ci_low=float(low[-1]), ci_high=float(high[-1]))
