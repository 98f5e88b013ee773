"""Paired comparisons of two checkpoints: scipy.stats (binomtest, wilcoxon, bootstrap), explicit loops,
hand-worked counts and symmetry properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from evalkit.stats.bootstrap import resample_counts
from evalkit.stats.compare import paired_bootstrap_difference, paired_bootstrap_differences, sign_test, wilcoxon_signed_rank


def test_sign_test_hand_worked() -> None:
    a = [1, 1, 0.5, 1, 0, 1, np.nan, 1]
    b = [0, 0.5, 0.5, 0, 1, 0, 1, 1]
    result = sign_test(a, b)
    assert (result["n_a_better"], result["n_b_better"], result["n_equal"]) == (4, 1, 2)
    assert result["p_value"] == pytest.approx(stats.binomtest(4, 5, 0.5).pvalue)
    assert result["p_value"] == pytest.approx(12 / 32)  # P(X<=1 or X>=4), X ~ Bin(5, 1/2)
    assert sign_test([1, 1], [1, 1])["p_value"] == 1.0


def test_wilcoxon_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(1, 7, 60).astype(float)
    b = np.clip(a - rng.integers(-1, 3, 60), 1, 6).astype(float)
    b[3] = np.nan
    ours = wilcoxon_signed_rank(a, b)
    keep = ~np.isnan(b)
    theirs = stats.wilcoxon(a[keep], b[keep])
    assert ours["statistic"] == pytest.approx(theirs.statistic)
    assert ours["p_value"] == pytest.approx(theirs.pvalue)
    assert ours["n"] == int(np.count_nonzero(a[keep] - b[keep]))
    same = wilcoxon_signed_rank([3, 4], [3, 4])
    assert same["n"] == 0 and same["p_value"] == 1.0


def test_wilcoxon_hand_worked_exact() -> None:
    # differences 1, 2, 3, -4, 5 -> ranks 1..5; W- = 4, W+ = 11. Subsets of {1..5} summing to <= 4:
    # {}, {1}, {2}, {3}, {4}, {1,2}, {1,3} -> P(W <= 4) = 7/32, two-sided p = 14/32.
    result = wilcoxon_signed_rank([2, 3, 4, 1, 6], [1, 1, 1, 5, 1])
    assert result["statistic"] == 4
    assert result["p_value"] == pytest.approx(14 / 32)


def test_paired_bootstrap_explicit_loop() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.uniform(size=40), rng.uniform(size=40)
    result = paired_bootstrap_difference(a, b, n_resamples=1500, seed=4)
    counts = resample_counts(40, 1500, 4)
    diffs = [(row @ (a - b)) / row.sum() for row in counts]
    assert result["difference"] == pytest.approx(np.mean(a - b))
    assert result["ci_low"] == pytest.approx(np.percentile(diffs, 2.5), abs=1e-12)
    assert result["ci_high"] == pytest.approx(np.percentile(diffs, 97.5), abs=1e-12)
    expected_p = min(1.0, 2 * min(np.mean(np.array(diffs) <= 0), np.mean(np.array(diffs) >= 0)))
    assert result["p_value"] == pytest.approx(expected_p)


def test_paired_bootstrap_agrees_with_scipy() -> None:
    rng = np.random.default_rng(2)
    a = (rng.uniform(size=400) < 0.6).astype(float)
    b = (rng.uniform(size=400) < 0.5).astype(float)
    ours = paired_bootstrap_difference(a, b, n_resamples=10_000, seed=0)
    theirs = stats.bootstrap(
        (a, b),
        lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
        paired=True,
        n_resamples=10_000,
        method="percentile",
        random_state=0,
    ).confidence_interval
    assert ours["ci_low"] == pytest.approx(theirs.low, abs=0.01)
    assert ours["ci_high"] == pytest.approx(theirs.high, abs=0.01)


def test_pairs_with_a_missing_side_are_dropped() -> None:
    a = np.array([1.0, 0.0, np.nan, 1.0, 0.5])
    b = np.array([0.0, 0.0, 1.0, np.nan, 0.5])
    result = paired_bootstrap_difference(a, b, n_resamples=200)
    assert result["n"] == 3
    assert result["mean_a"] == pytest.approx(0.5) and result["mean_b"] == pytest.approx(1 / 6)


def test_columns_share_resamples_with_single_calls() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.uniform(size=(50, 3)), rng.uniform(size=(50, 3))
    a[4, 1] = np.nan
    together = paired_bootstrap_differences(a, b, n_resamples=800, seed=2)
    for column in (0, 2):  # columns without NaN see exactly the single-call resamples
        alone = paired_bootstrap_difference(a[:, column], b[:, column], n_resamples=800, seed=2)
        assert together[column] == pytest.approx(alone)


def test_identical_models_are_not_different() -> None:
    a = np.random.default_rng(5).uniform(size=30)
    result = paired_bootstrap_difference(a, a.copy(), n_resamples=500)
    assert result["difference"] == 0 and result["ci_low"] == 0 and result["ci_high"] == 0
    assert result["p_value"] == 1.0


def test_clusters_pool_a_prompts_rows() -> None:
    a = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    b = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    clustered = paired_bootstrap_difference(a, b, n_resamples=300, seed=1, clusters=[0, 0, 1, 1, 2, 2])
    per_prompt = paired_bootstrap_difference(a[::2], b[::2], n_resamples=300, seed=1)
    assert clustered["ci_low"] == pytest.approx(per_prompt["ci_low"]) and clustered["ci_high"] == pytest.approx(
        per_prompt["ci_high"]
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0]), st.sampled_from([0.0, 0.5, 1.0])), min_size=3, max_size=40),
    st.integers(0, 10),
)
def test_swapping_models_negates_everything(pairs: list[tuple[float, float]], seed: int) -> None:
    a, b = np.array(pairs).T
    forward = paired_bootstrap_difference(a, b, n_resamples=300, seed=seed)
    backward = paired_bootstrap_difference(b, a, n_resamples=300, seed=seed)
    assert forward["difference"] == pytest.approx(-backward["difference"], abs=1e-12)
    assert forward["ci_low"] == pytest.approx(-backward["ci_high"], abs=1e-12)
    assert forward["p_value"] == pytest.approx(backward["p_value"])
    s_forward, s_backward = sign_test(a, b), sign_test(b, a)
    assert s_forward["n_a_better"] == s_backward["n_b_better"] and s_forward["p_value"] == pytest.approx(s_backward["p_value"])
    assert not math.isnan(forward["ci_low"])
