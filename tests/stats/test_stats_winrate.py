"""AlpacaEval win rate: the published leaderboard rows, alpaca-eval's own get_winrate, hand-worked cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.stats.winrate import WINRATE_FIELDS, alpaca_winrate, preference_unit, preferences_from_outcomes
from tests.helpers import ALPACA_EVAL_DATA

DATA = ALPACA_EVAL_DATA
ANNOTATORS = ("alpaca_eval_gpt4", "weighted_alpaca_eval_gpt4_turbo")


def _same(a: float, b: float, tol: float = 1e-9) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


@pytest.fixture(scope="module")
def get_winrate():
    from alpaca_eval.metrics import get_winrate

    return get_winrate


@pytest.mark.parametrize("annotator", ANNOTATORS)
def test_reproduces_published_leaderboard_row(annotator: str) -> None:
    if not DATA.is_dir():
        pytest.skip(f"AlpacaEval reference data not available at {DATA}")
    rows = json.loads((DATA / f"alpaca-7b.{annotator}.annotations.json").read_text())
    published = pd.read_csv(DATA / f"leaderboard_rows.{annotator}.csv", index_col=0).loc["alpaca-7b"]
    ours = alpaca_winrate([row["preference"] for row in rows])
    assert set(ours) == set(WINRATE_FIELDS)
    for field in WINRATE_FIELDS:
        assert abs(ours[field] - float(published[field])) <= 1e-9, field


@pytest.mark.parametrize("annotator", ANNOTATORS)
def test_equals_alpaca_eval_get_winrate_on_real_annotations(annotator: str, get_winrate) -> None:
    if not DATA.is_dir():
        pytest.skip(f"AlpacaEval reference data not available at {DATA}")
    rows = json.loads((DATA / f"alpaca-7b.{annotator}.annotations.json").read_text())
    theirs = get_winrate(rows)
    ours = alpaca_winrate([row["preference"] for row in rows])
    for field in WINRATE_FIELDS:
        assert _same(float(ours[field]), float(theirs[field])), field


def test_hand_worked_case() -> None:
    # 0 is a legacy tie; NaN and 3 are dropped; draws are counted before dropping.
    result = alpaca_winrate([2, 1, 1.5, 0, None, 3])
    assert result["n_draws"] == 2 and result["n_total"] == 4
    assert result["n_wins"] == 1 and result["n_wins_base"] == 1
    assert result["win_rate"] == pytest.approx(50.0)
    # x = [1, 0, .5, .5]: sample sd = sqrt(0.5 / 3), SE = sd / 2
    assert result["standard_error"] == pytest.approx(100 * math.sqrt(0.5 / 3) / 2)
    assert result["discrete_win_rate"] == pytest.approx(50.0)


def test_continuous_preferences_round_for_the_discrete_rate() -> None:
    result = alpaca_winrate([1.7, 1.2, 1.5, 1.9])
    assert result["win_rate"] == pytest.approx(100 * np.mean([0.7, 0.2, 0.5, 0.9]))
    assert result["discrete_win_rate"] == pytest.approx(100 * np.mean([1, 0, 0.5, 1]))
    assert result["n_wins"] == 2 and result["n_wins_base"] == 1 and result["n_draws"] == 1


def test_empty_and_single() -> None:
    assert math.isnan(alpaca_winrate([])["win_rate"])
    single = alpaca_winrate([2])
    assert single["win_rate"] == 100 and math.isnan(single["standard_error"])


def test_outcomes_and_unit_scale() -> None:
    assert np.allclose(
        preferences_from_outcomes(["win", "tie", "loss", "invalid", None]), [2, 1.5, 1, np.nan, np.nan], equal_nan=True
    )
    assert np.allclose(preference_unit([2, 0, 1, 7, None]), [1, 0.5, 0, np.nan, np.nan], equal_nan=True)


preference_values = st.one_of(
    st.sampled_from([0.0, 1.0, 1.5, 2.0, math.nan]),
    st.floats(min_value=0.0, max_value=2.6, allow_nan=False),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(preference_values, min_size=1, max_size=40))
def test_matches_get_winrate_on_random_preferences(values: list[float]) -> None:
    from alpaca_eval.metrics import get_winrate

    theirs = get_winrate([{"preference": v} for v in values])
    ours = alpaca_winrate(values)
    for field in WINRATE_FIELDS:
        assert _same(float(ours[field]), float(theirs[field]), 1e-9), (field, values)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=2.0), min_size=2, max_size=40))
def test_swapping_the_sides_mirrors_the_win_rate(values: list[float]) -> None:
    forward, mirrored = alpaca_winrate(values), alpaca_winrate([3 - v for v in values])
    assert forward["win_rate"] + mirrored["win_rate"] == pytest.approx(100.0)
    assert forward["standard_error"] == pytest.approx(mirrored["standard_error"], abs=1e-9)
    assert forward["n_wins"] == mirrored["n_wins_base"]
