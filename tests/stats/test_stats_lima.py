"""LIMA summaries and the shared bootstrap: hand-worked cases, explicit loops, scipy.stats.bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evalkit.stats import bootstrap
from evalkit.stats.lima import likert_summary, win_tie_loss


def test_win_tie_loss_hand_worked() -> None:
    result = win_tie_loss(["win", "win", "tie", "loss", "invalid", None, "win", "loss"])
    assert result == {
        "n": 6,
        "n_invalid": 2,
        "win_pct": pytest.approx(50.0),
        "tie_pct": pytest.approx(100 / 6),
        "loss_pct": pytest.approx(100 / 3),
    }
    empty = win_tie_loss(["invalid"])
    assert empty["n"] == 0 and math.isnan(empty["win_pct"])


def test_resample_counts_are_multinomial_bootstraps() -> None:
    counts = bootstrap.resample_counts(50, 4000, seed=3)
    assert counts.shape == (4000, 50)
    assert np.all(counts.sum(axis=1) == 50)
    assert counts.mean() == pytest.approx(1.0)
    assert counts.var() == pytest.approx(1 - 1 / 50, rel=0.05)  # multinomial(n, 1/n) cell variance
    assert not counts.flags.writeable  # cached and shared: nobody may change it


def test_block_path_equals_cached_path(monkeypatch: pytest.MonkeyPatch) -> None:
    columns = np.random.default_rng(0).normal(size=(37, 3))
    cached = bootstrap.resampled_sums(columns, 500, seed=5)
    monkeypatch.setattr(bootstrap, "_CACHE_ELEMENTS", 0)
    monkeypatch.setattr(bootstrap, "_CHUNK_ELEMENTS", 37 * 7)
    assert np.allclose(bootstrap.resampled_sums(columns, 500, seed=5), cached, rtol=0, atol=1e-12)


def test_likert_hand_worked_and_explicit_loop() -> None:
    scores = np.array([6, 5, 5, 4, 6, 3, np.nan, 5, 6, 2], dtype=float)
    result = likert_summary(scores, n_resamples=2000, seed=11)
    valid = scores[~np.isnan(scores)]
    assert result["n"] == 9 and result["n_invalid"] == 1
    assert result["mean"] == pytest.approx(valid.mean())
    assert result["distribution"] == {1: 0.0, 2: 1 / 9, 3: 1 / 9, 4: 1 / 9, 5: 3 / 9, 6: 3 / 9}
    # the same resamples, done the slow way: each row of counts says how often each score was drawn
    counts = bootstrap.resample_counts(len(scores), 2000, 11)
    means = []
    for row in counts:
        weights = row * ~np.isnan(scores)
        means.append(np.sum(weights * np.nan_to_num(scores)) / weights.sum())
    assert result["ci_low"] == pytest.approx(np.percentile(means, 2.5), abs=1e-12)
    assert result["ci_high"] == pytest.approx(np.percentile(means, 97.5), abs=1e-12)


def test_likert_interval_agrees_with_scipy_bootstrap() -> None:
    scores = np.random.default_rng(2).integers(1, 7, size=300).astype(float)
    ours = likert_summary(scores, n_resamples=10_000, seed=1)
    theirs = stats.bootstrap((scores,), np.mean, n_resamples=10_000, method="percentile", random_state=1).confidence_interval
    assert ours["ci_low"] == pytest.approx(theirs.low, abs=0.03)
    assert ours["ci_high"] == pytest.approx(theirs.high, abs=0.03)


def test_clusters_resample_whole_prompts() -> None:
    # two samples per prompt, identical within a prompt: the cluster bootstrap equals the bootstrap of
    # the per-prompt scores, while treating samples as independent would shrink the interval.
    per_prompt = np.random.default_rng(4).integers(1, 7, size=120).astype(float)
    scores = np.repeat(per_prompt, 2)
    prompts = np.repeat(np.arange(120), 2)
    clustered = likert_summary(scores, clusters=prompts, n_resamples=4000, seed=9)
    per_prompt_only = likert_summary(per_prompt, n_resamples=4000, seed=9)
    assert clustered["ci_low"] == pytest.approx(per_prompt_only["ci_low"], abs=1e-12)
    assert clustered["ci_high"] == pytest.approx(per_prompt_only["ci_high"], abs=1e-12)
    naive = likert_summary(scores, n_resamples=4000, seed=9)
    assert naive["ci_high"] - naive["ci_low"] < clustered["ci_high"] - clustered["ci_low"]


def test_all_invalid_scores() -> None:
    result = likert_summary([None, None])
    assert result["n"] == 0 and math.isnan(result["mean"]) and math.isnan(result["ci_low"])


def test_percentile_interval_validates_level() -> None:
    with pytest.raises(ValueError):
        bootstrap.percentile_interval(np.zeros(10), level=1.5)
