"""The stopping rule of `--stop-when-decided` (evalkit/decision/stopping.py) and the record of what it
saved (evalkit/decision/stopping_record.py)."""

from __future__ import annotations

import numpy as np

from evalkit.decision.stopping import (
    BEST,
    CANNOT_REACH,
    DECIDED,
    decided_below,
    pair_alpha,
    review_round,
)
from evalkit.decision.stopping_record import stopping_lines, stopping_record
from evalkit.decision.stopping_settings import StoppingSettings


def simulate(units: np.ndarray, round_size: int, alpha: float) -> list[str | None]:
    """The rounds of a run over complete per-prompt units (prompts in the seeded order x checkpoints):
    each checkpoint's stop reason (None: judged to the end)."""
    total, checkpoints = units.shape
    active = np.ones(checkpoints, dtype=bool)
    judged = np.zeros(checkpoints, dtype=np.int64)
    reasons: list[str | None] = [None] * checkpoints
    prefix = 0
    while active.any() and prefix < total:
        prefix = min(total, prefix + round_size)
        judged[active] = prefix
        seen = np.where(np.arange(total)[:, None] < judged[None, :], units, np.nan)
        for c, reason in enumerate(review_round(seen, judged, active, total, alpha)):
            if reason is not None:
                active[c], reasons[c] = False, reason
    return reasons


def draw(rng: np.random.Generator, shape: tuple[int, int], win: float, tie: float) -> np.ndarray:
    return rng.choice([1.0, 0.5, 0.0], size=shape, p=[win, tie, 1.0 - win - tie])


def test_equal_checkpoints_are_declared_different_at_most_alpha_of_the_time() -> None:
    rng = np.random.default_rng(2025)
    alpha, sims = 0.05, 500
    wrong = sum(DECIDED in simulate(draw(rng, (200, 3), 0.35, 0.3), 20, alpha) for _ in range(sims))
    # at most alpha in expectation (here about 0.04); the slack is 2.5 binomial standard errors at alpha
    assert wrong / sims <= alpha + 0.025


def test_a_clearly_worse_checkpoint_is_decided_early_and_the_best_is_never_stopped_as_worse() -> None:
    rng = np.random.default_rng(7)
    units = np.column_stack([draw(rng, (400, 1), 0.8, 0.1)[:, 0], draw(rng, (400, 1), 0.1, 0.1)[:, 0]])
    reasons = simulate(units, 20, 0.05)
    assert reasons == [BEST, DECIDED]


def test_a_checkpoint_that_cannot_catch_up_stops_by_the_deterministic_bound() -> None:
    units = np.full((10, 2), np.nan)
    units[:8, 0], units[:8, 1] = 1.0, 0.0  # 8 of 10 judged: the second can reach 2/10 at most, the first 8/10 at least
    reasons = review_round(units, np.array([8, 8]), np.array([True, True]), 10, 1e-12)
    assert reasons == [BEST, CANNOT_REACH]


def test_one_checkpoint_alone_is_judged_in_full_and_undecided_ones_go_on() -> None:
    assert review_round(np.ones((5, 1)), np.array([5]), np.array([True]), 10, 0.05) == [None]
    units = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.5]])
    assert review_round(units, np.array([2, 2, 2]), np.ones(3, dtype=bool), 100, 0.05) == [None, None, None]


def test_level_is_split_over_every_pair_and_direction_matters() -> None:
    assert pair_alpha(0.05, 4) == 0.05 / 6 and pair_alpha(0.05, 1) == 0.05
    assert decided_below(np.zeros(60), 0.05) and not decided_below(np.ones(60), 0.05)
    assert not decided_below(np.array([]), 0.05)
    assert StoppingSettings().size_for(50) == 10 and StoppingSettings().size_for(805) == 81
    assert StoppingSettings(round_size=7).size_for(805) == 7


def test_the_record_and_its_lines() -> None:
    nothing = stopping_record(50, [("epoch-1", 50, 100), ("epoch-2", 50, 100)], 0.01)  # nothing stopped: saved 0
    assert (nothing.judgments_saved, nothing.judgments_total, nothing.share_saved, nothing.cost_saved_usd) == (0, 200, 0.0, 0.0)
    record = stopping_record(50, [("epoch-1", 50, 150), ("epoch-2", 20, 60)], 0.01)
    assert record is not None
    assert record.judgments_total == 300 and record.judgments_saved == 90 and record.share_saved == 0.3
    assert record.cost_saved_usd is not None and abs(record.cost_saved_usd - 0.9) < 1e-12
    assert [row.judgments_saved for row in record.checkpoints] == [0, 90]
    from dataclasses import asdict

    lines = stopping_lines({"stopping": asdict(record)})
    assert lines[0].strip() == "epoch-2  decided after 20 of 50 prompts"
    assert lines[-1] == "stopping when decided saved 90 of 300 judgments (30.0%, about $0.9000)"
    assert stopping_lines({}) == []
    assert stopping_record(50, [("a", 10, 20)], None).cost_saved_usd is None
