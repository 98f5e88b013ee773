"""The betting confidence sequence (evalkit.stats.confidence_sequence) against a hand-worked case, a plain
Python loop written here from the paper's formulas (Waudby-Smith & Ramdas 2023, Theorem 3 and eq. 26), and
simulations of its validity (null streams are rarely decided) and power (a real preference is decided early)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.stats.confidence_sequence import (
    first_exclusion,
    follow,
    hedged_log_capital,
    mean_grid,
    running_intervals,
)

ALPHA = 0.05
# A's preference per label: A = 1, tie = 1/2, B = 0.
VALUES = np.array([1.0, 0.5, 0.0])


def loop_capital(xs: list[float], m: float, alpha: float, c: float = 0.5, theta: float = 0.5) -> list[float]:
    """K_t(m), t = 1..n, one observation at a time, straight from the paper's definitions."""
    total, squares = 0.0, 0.0
    variance_before = 0.25  # sigma^2_0: the prior variance
    up, down, out = 1.0, 1.0, []
    for t, x in enumerate(xs, start=1):
        bet = math.sqrt(2 * math.log(2 / alpha) / (variance_before * t * math.log(1 + t)))
        bet_up = bet if m == 0 else min(bet, c / m)
        bet_down = bet if m == 1 else min(bet, c / (1 - m))
        up *= 1 + bet_up * (x - m)
        down *= 1 - bet_down * (x - m)
        out.append(theta * up + (1 - theta) * down)
        total += x
        mean_t = (0.5 + total) / (t + 1)
        squares += (x - mean_t) ** 2
        variance_before = (0.25 + squares) / (t + 1)
    return out


def test_hand_worked_capital() -> None:
    # x = (A, tie). Both bets are truncated (the plug-in bets are 6.5 and 4.6): at m = 1/2 they are 1 and 1:
    # K_2 = 1/2 (1.5 * 1) + 1/2 (0.5 * 1) = 1. At m = 1/4 they are 2 up and 2/3 down:
    # K_2 = 1/2 (2.5 * 1.5) + 1/2 (0.5 * 5/6) = 1.875 + 0.208333... = 2.0833...
    capital = np.exp(hedged_log_capital(np.array([1.0, 0.5]), np.array([0.5, 0.25]), ALPHA))
    assert capital[-1] == pytest.approx([1.0, 1.875 + 0.5 * 0.5 * 5 / 6], rel=1e-12)


def test_capital_on_the_grid_equals_the_loop() -> None:
    rng = np.random.default_rng(7)
    xs = rng.choice(VALUES, p=[0.45, 0.3, 0.25], size=60)
    grid = mean_grid(40)
    capital = np.exp(hedged_log_capital(xs, grid, ALPHA))
    for j, m in enumerate(grid):
        assert capital[:, j] == pytest.approx(loop_capital(list(xs), float(m), ALPHA), rel=1e-9)


def test_vectorised_over_streams_matches_one_at_a_time() -> None:
    rng = np.random.default_rng(3)
    streams = rng.choice(VALUES, p=[0.4, 0.3, 0.3], size=(5, 120))
    together = first_exclusion(streams, ALPHA)
    alone = [int(first_exclusion(stream, ALPHA)) for stream in streams]
    assert list(together) == alone


def test_intervals_shrink_cover_the_running_mean_and_decide_at_the_first_exclusion() -> None:
    rng = np.random.default_rng(11)
    for probabilities in ([0.35, 0.3, 0.35], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]):
        xs = rng.choice(VALUES, p=probabilities, size=400)
        low, high = running_intervals(xs, ALPHA)
        running_mean = np.cumsum(xs) / np.arange(1, xs.size + 1)
        assert np.all(low <= running_mean) and np.all(running_mean <= high)
        assert np.all(np.diff(low) >= 0) and np.all(np.diff(high) <= 0)  # a running intersection
        outcome = follow(xs, ALPHA)
        stop = int(first_exclusion(xs, ALPHA))
        assert outcome.decided == (stop > 0)
        if outcome.decided:
            # before the stop 0.5 was inside every interval; at the stop the interval lies on one side
            assert np.all((low[: stop - 1] <= 0.5) & (0.5 <= high[: stop - 1]))
            assert outcome.ci_high < 0.5 or outcome.ci_low > 0.5
            assert outcome.above_null == (running_mean[stop - 1] > 0.5)


def test_a_one_sided_stream_is_decided_early_and_checks_its_inputs() -> None:
    outcome = follow(np.ones(30), ALPHA)
    assert outcome.decided and outcome.above_null and outcome.n_used < 15 and outcome.ci_high == 1.0
    undecided = follow(np.array([1.0, 0.0]), ALPHA)
    assert not undecided.decided and undecided.n_used == 2 and (undecided.ci_low, undecided.ci_high) == (0.0, 1.0)
    with pytest.raises(ValueError):
        follow(np.array([1.5]), ALPHA)
    with pytest.raises(ValueError):
        first_exclusion(np.ones(3), 1.0)


def hoeffding_intervals(xs: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """A second, simple anytime-valid bound: the predictable-plug-in Hoeffding confidence sequence (the paper's
    eq. 9: bets l_t = min(sqrt(8 log(2/alpha) / (t log(1 + t))), 1), blind to the variance), intersected over
    time: sum(l x) / sum(l) -/+ (log(2/alpha) + sum(l^2) / 8) / sum(l)."""
    t = np.arange(1, xs.size + 1)
    bets = np.minimum(np.sqrt(8 * math.log(2 / alpha) / (t * np.log1p(t))), 1.0)
    centre = np.cumsum(bets * xs) / np.cumsum(bets)
    half_width = (math.log(2 / alpha) + np.cumsum(bets**2) / 8) / np.cumsum(bets)
    return np.maximum.accumulate(np.clip(centre - half_width, 0, 1)), np.minimum.accumulate(np.clip(centre + half_width, 0, 1))


def test_narrower_than_the_hoeffding_sequence_and_both_cover_the_mean() -> None:
    # Ties lower the variance below Hoeffding's worst case 1/4: betting adapts to it, Hoeffding cannot.
    rng = np.random.default_rng(5)
    xs = rng.choice(VALUES, p=[0.45, 0.3, 0.25], size=800)
    low, high = running_intervals(xs, ALPHA)
    hoeffding_low, hoeffding_high = hoeffding_intervals(xs, ALPHA)
    assert low[-1] <= 0.6 <= high[-1] and hoeffding_low[-1] <= 0.6 <= hoeffding_high[-1]
    assert high[-1] - low[-1] < hoeffding_high[-1] - hoeffding_low[-1]
    assert np.all(high - low <= hoeffding_high - hoeffding_low)


def test_validity_null_streams_are_rarely_ever_decided() -> None:
    # 1,000 null streams of 800 labels: A and B equally likely, 30% ties. Anytime-valid at 5%: at most 5%
    # are ever decided, although each is looked at after every label.
    rng = np.random.default_rng(2025)
    streams = rng.choice(VALUES, p=[0.35, 0.3, 0.35], size=(1000, 800))
    decided = first_exclusion(streams, ALPHA) > 0
    assert decided.mean() <= 0.05


def test_power_a_real_preference_is_decided_after_a_fraction_of_the_labels() -> None:
    # A true preference of 0.65 (P(A) = 0.5, P(tie) = 0.3, P(B) = 0.2): on average decided within 250 of 800.
    rng = np.random.default_rng(2026)
    streams = rng.choice(VALUES, p=[0.5, 0.3, 0.2], size=(400, 800))
    stops = first_exclusion(streams, ALPHA)
    n_used = np.where(stops > 0, stops, streams.shape[1])
    assert n_used.mean() <= 250
    # and decided for A, never wrongly for B
    assert all(follow(stream, ALPHA).above_null for stream in streams[:20])
