"""Bradley-Terry: against scikit-learn's logistic regression (the LMSYS arena recipe), scipy's
optimiser, a closed form, and symmetry properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.stats.ranking import DEFAULT_RIDGE, bradley_terry, fit_strengths


def _battles(seed: int = 0, n_players: int = 5, n: int = 300):
    rng = np.random.default_rng(seed)
    truth = np.linspace(-1, 1, n_players)
    a = rng.integers(0, n_players, n)
    b = (a + rng.integers(1, n_players, n)) % n_players
    p = 1 / (1 + np.exp(-(truth[a] - truth[b])))
    u = rng.uniform(size=n)
    score = np.where(u < 0.85 * p, 1.0, np.where(u < 0.85 * p + 0.15, 0.5, 0.0))
    return [f"m{i}" for i in a], [f"m{i}" for i in b], score


def test_matches_sklearn_logistic_regression_with_the_same_ridge() -> None:
    from sklearn.linear_model import LogisticRegression

    a, b, score = _battles()
    ours = bradley_terry(a, b, score, n_resamples=0).set_index("player")["strength"]
    players = sorted(set(a) | set(b))
    index = {p: i for i, p in enumerate(players)}
    # LMSYS: one row per battle with +1 / -1 columns; a tie is half a win for each side (two half-weight rows)
    x = np.zeros((2 * len(a), len(players)))
    for row, (pa, pb) in enumerate(zip(a, b)):
        x[row, index[pa]], x[row, index[pb]] = 1, -1
        x[len(a) + row] = x[row]
    y = np.concatenate([np.ones(len(a)), np.zeros(len(a))])
    weight = np.concatenate([score, 1 - score])
    model = LogisticRegression(C=1 / DEFAULT_RIDGE, fit_intercept=False, tol=1e-12, max_iter=10_000)
    model.fit(x, y, sample_weight=weight)
    theirs = model.coef_[0]
    # sklearn's objective: 1/2 ||w||^2 + C * loss  ==  ridge/2 ||w||^2 + loss; both centre at mean 0
    assert np.allclose(ours[players].to_numpy(), theirs, atol=1e-6)


def test_matches_scipy_minimize_of_the_penalised_likelihood() -> None:
    from scipy.optimize import minimize
    from scipy.special import log_expit

    a, b, score = _battles(seed=3, n_players=4, n=120)
    players = sorted(set(a) | set(b))
    ia, ib = np.array([players.index(p) for p in a]), np.array([players.index(p) for p in b])

    def loss(theta: np.ndarray) -> float:
        d = theta[ia] - theta[ib]
        return -np.sum(score * log_expit(d) + (1 - score) * log_expit(-d)) + DEFAULT_RIDGE / 2 * theta @ theta

    theirs = minimize(loss, np.zeros(len(players)), method="BFGS", options={"gtol": 1e-10}).x
    ours = bradley_terry(a, b, score, n_resamples=0).set_index("player")["strength"][players].to_numpy()
    assert np.allclose(ours, theirs, atol=1e-5)


def test_two_players_closed_form() -> None:
    # 7 wins, 2 ties, 3 losses: s_a - s_b = logit((7 + 1) / 12) as the ridge vanishes
    score = [1.0] * 7 + [0.5] * 2 + [0.0] * 3
    result = bradley_terry(["a"] * 12, ["b"] * 12, score, n_resamples=0, ridge=1e-12).set_index("player")
    assert result.loc["a", "strength"] - result.loc["b", "strength"] == pytest.approx(math.log(8 / 4), abs=1e-9)
    assert result.loc["a", "strength"] == pytest.approx(-result.loc["b", "strength"])
    assert result.loc["a", "elo"] - result.loc["b", "elo"] == pytest.approx(400 * math.log10(2))


def test_an_unbeaten_model_stays_finite_and_first() -> None:
    result = bradley_terry(["top"] * 10 + ["mid"] * 10, ["mid"] * 10 + ["low"] * 10, [1.0] * 10 + [0.5] * 10, n_resamples=200)
    assert result["player"].tolist()[0] == "top"
    assert np.isfinite(result["strength"]).all() and np.isfinite(result["ci_high"]).all()


def test_bootstrap_intervals_and_rank_intervals() -> None:
    a, b, score = _battles(seed=1, n_players=4, n=600)
    result = bradley_terry(a, b, score, clusters=np.arange(600) // 2, n_resamples=2000, seed=3)
    assert (result["ci_low"] <= result["strength"]).all() and (result["strength"] <= result["ci_high"]).all()
    assert (result["rank_low"] <= result["rank"]).all() and (result["rank"] <= result["rank_high"]).all()
    assert result["player"].tolist() == ["m3", "m2", "m1", "m0"]
    assert result["n"].sum() == 2 * 600
    again = bradley_terry(a, b, score, clusters=np.arange(600) // 2, n_resamples=2000, seed=3)
    assert again.equals(result)


def test_chord_steps_reach_the_newton_solution() -> None:
    rng = np.random.default_rng(4)
    incidence = np.array([[1, -1, 0], [0, 1, -1], [1, 0, -1]], dtype=float)
    games = rng.integers(5, 40, size=(50, 3)).astype(float)
    wins = games * rng.uniform(0.1, 0.9, size=(50, 3))
    newton = fit_strengths(wins, games, incidence)
    start = fit_strengths(wins.mean(axis=0, keepdims=True), games.mean(axis=0, keepdims=True), incidence)[0]
    chord = fit_strengths(wins, games, incidence, start=start)
    assert np.allclose(chord, newton, atol=1e-8)


def test_disconnected_groups_are_ranked_apart() -> None:
    result = bradley_terry(["a", "c"], ["b", "d"], [1.0, 0.0], n_resamples=0)
    assert result.groupby("component")["player"].apply(set).tolist() in ([{"a", "b"}, {"c", "d"}], [{"c", "d"}, {"a", "b"}])
    assert sorted(result["rank"].tolist()) == [1, 1, 2, 2]


def test_rejects_misaligned_input_and_no_ridge() -> None:
    with pytest.raises(ValueError):
        bradley_terry(["a"], ["b", "c"], [1.0])
    with pytest.raises(ValueError, match="ridge"):
        bradley_terry(["a"], ["b"], [1.0], ridge=0.0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from([0.0, 0.5, 1.0])), min_size=1, max_size=40))
def test_swapping_sides_changes_nothing(battles: list[tuple[int, int, float]]) -> None:
    a = [f"p{x}" for x, _, _ in battles]
    b = [f"p{y}" for _, y, _ in battles]
    s = np.array([z for _, _, z in battles])
    forward = bradley_terry(a, b, s, n_resamples=0)
    backward = bradley_terry(b, a, 1 - s, n_resamples=0)
    assert forward["player"].tolist() == backward["player"].tolist()
    assert np.allclose(forward["strength"], backward["strength"], atol=1e-7)
