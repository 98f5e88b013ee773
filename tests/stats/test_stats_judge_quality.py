"""Judge-vs-humans figures: hand-worked cases, alpaca-eval's Analyzer (its human-agreement and
variance protocols), scikit-learn's Cohen's kappa, and the existing pairwise/vs-mode functions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.stats.agreement import (
    LABEL_PREFERENCE,
    LABELS,
    label_codes,
    pair_agreement,
    vs_mode,
)
from evalkit.stats.bootstrap import percentile_interval, resample_counts
from evalkit.stats.judge_quality import (
    combine_orders,
    humans_vs_each_other,
    judge_vs_humans,
    label_counts,
    prefer_first,
    prefer_longer,
    reference_labels,
    self_consistency,
)

labels_strategy = st.sampled_from(["A", "B", "tie"])


def _long(matrix: list[list[str | None]], prefix: str = "h") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"item": f"i{i:03d}", "rater": f"{prefix}{j}", "label": label}
            for i, row in enumerate(matrix)
            for j, label in enumerate(row)
            if label is not None
        ]
    )


def _judge(labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"item": [f"i{i:03d}" for i in range(len(labels))], "label": labels})


def _cross(matrix: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"instruction": f"q{i}", "output_1": f"a{i}", "output_2": f"b{i}", "preference": LABEL_PREFERENCE[label]}
            for i, row in enumerate(matrix)
            for label in row
        ]
    )


def _analyzer(frame: pd.DataFrame, n_annotators: int):
    from alpaca_eval.analyze import Analyzer

    return Analyzer(
        gold_crossannotations=frame.copy(), gold_annotations=frame.copy(), n_annotators=n_annotators, scoring_rule="absolute"
    )


def test_hand_worked_judge_and_humans() -> None:
    humans = _long([["A", "A", "B"], ["B", "B", "B"], ["tie", "tie", "A"], ["A", "B", "B"]])
    judge = _judge(["A", "tie", "A", "A"])
    result = judge_vs_humans(judge, humans, n_resamples=200)
    # modes: A, B, tie, B. LIMA scores: 1, 0.5, 0.5, 0 -> 2/4; exact 1/4; without ties: items 0, 3 -> 1/2
    assert result["n"] == 4
    assert result["tie_discounted"] == pytest.approx(0.5)
    assert result["agreement"] == pytest.approx(0.25)
    assert result["agreement_without_ties"] == pytest.approx(0.5)
    # humans, each vs the mode of the other two: h0: (A,A|B->A? 2 modes) ... checked against vs_mode below
    crowd = humans_vs_each_other(humans, n_resamples=200)
    assert crowd["tie_discounted"] == pytest.approx(np.mean(list(vs_mode(humans).values())))
    assert crowd["raters"] == 3 and crowd["n"] == 4


def test_unique_mode_contract_mean_of_lima_scores() -> None:
    """The contract: on items whose human mode is unique, the mean of 1 / 0.5 / 0 against that mode."""
    humans = _long([["A", "A", "A"], ["B", "B", "tie"], ["tie", "tie", "B"], ["A", "A", "B"], ["B", "B", "B"]])
    judge = _judge(["A", "tie", "B", "B", "A"])
    points = [1.0, 0.5, 0.5, 0.0, 0.0]
    assert judge_vs_humans(judge, humans, n_resamples=0)["tie_discounted"] == pytest.approx(np.mean(points))


@pytest.mark.slow  # alpaca-eval's Analyzer is ~0.3 s per example
@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(labels_strategy, st.lists(labels_strategy, min_size=4, max_size=4)), min_size=2, max_size=15))
def test_judge_matches_alpaca_eval_sklearn_and_pairwise(rows: list[tuple[str, list[str]]]) -> None:
    from sklearn.metrics import cohen_kappa_score

    judge_labels, matrix = [r[0] for r in rows], [r[1] for r in rows]
    humans = _long(matrix)
    ours = judge_vs_humans(_judge(judge_labels), humans, n_resamples=0)
    theirs = _analyzer(_cross(matrix), 4).agreement_of_annotations(
        _cross([[label] for label in judge_labels]), n_majority_vote_1=1, n_majority_vote_2=None
    )["score"]
    assert ours["tie_discounted"] == pytest.approx(theirs, abs=1e-12)
    mode = [LABELS[c] for c in reference_labels(label_counts(np.array([label_codes(row) for row in matrix])))]
    plain = pair_agreement(judge_labels, mode)
    for name in ("agreement", "agreement_without_ties"):
        assert (math.isnan(ours[name]) and math.isnan(plain[name])) or ours[name] == pytest.approx(plain[name])
    if len(set(judge_labels) | set(mode)) > 1:
        assert ours["cohen_kappa"] == pytest.approx(cohen_kappa_score(judge_labels, mode), abs=1e-12)
    else:
        assert math.isnan(ours["cohen_kappa"])


@pytest.mark.slow  # alpaca-eval's Analyzer is ~0.3 s per example
@settings(max_examples=10, deadline=None)
@given(st.lists(st.lists(labels_strategy, min_size=4, max_size=4), min_size=2, max_size=12))
def test_humans_match_alpaca_eval_analyzer(matrix: list[list[str]]) -> None:
    ours = humans_vs_each_other(_long(matrix), n_resamples=0)["tie_discounted"]
    theirs = _analyzer(_cross(matrix), 4).agreement_of_annotations("gold_crossannotations", n_majority_vote_1=1)["score"]
    assert ours == pytest.approx(theirs, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(labels_strategy, st.lists(st.one_of(st.none(), labels_strategy), min_size=3, max_size=5)),
        min_size=1,
        max_size=15,
    )
)
def test_judge_equals_vs_mode_with_missing_labels(rows: list[tuple[str, list[str | None]]]) -> None:
    humans = _long([r[1] for r in rows])
    if humans.empty:
        return
    judge = _judge([r[0] for r in rows])
    frame = pd.concat([humans, judge.assign(rater="judge")], ignore_index=True)
    expected = vs_mode(frame, pool=sorted(humans["rater"].unique()))["judge"]
    ours = judge_vs_humans(judge, humans, n_resamples=0)["tie_discounted"]
    assert (math.isnan(ours) and math.isnan(expected)) or ours == pytest.approx(expected)


def test_bootstrap_interval_equals_a_plain_loop_over_the_same_resamples() -> None:
    rng = np.random.default_rng(3)
    matrix = [list(rng.choice(["A", "B", "tie"], size=3, p=[0.45, 0.4, 0.15])) for _ in range(40)]
    judge_labels = list(rng.choice(["A", "B", "tie"], size=40))
    result = judge_vs_humans(_judge(judge_labels), _long(matrix), n_resamples=500, seed=7)
    humans = _long(matrix)
    modes = reference_labels(label_counts(np.array([label_codes(row) for row in matrix])))
    scores = 1 - np.abs(label_codes(judge_labels) - modes) / 2
    counts = resample_counts(40, 500, 7)
    low, high = percentile_interval(counts @ scores / counts.sum(axis=1))
    assert (result["tie_discounted_ci_low"], result["tie_discounted_ci_high"]) == pytest.approx((low, high))
    assert result["tie_discounted_ci_low"] <= result["tie_discounted"] <= result["tie_discounted_ci_high"]
    assert (
        humans_vs_each_other(humans, n_resamples=500)["cohen_kappa_ci_low"]
        <= humans_vs_each_other(humans, n_resamples=0)["cohen_kappa"]
    )


def test_samples_are_rows_and_self_consistency_matches_alpaca_eval_variance() -> None:
    samples = [["A", "A", "B"], ["B", "B", "B"], ["tie", "A", "A"], ["A", "B", "tie"]]
    judge = pd.DataFrame(
        [{"item": f"i{i:03d}", "sample": k, "label": label} for i, row in enumerate(samples) for k, label in enumerate(row)]
    )
    analyzer = _analyzer(_cross(samples), 3)
    variance = analyzer.estimate_variance("gold_crossannotations")
    assert self_consistency(judge) == pytest.approx(1 - variance)
    assert math.isnan(self_consistency(judge[judge["sample"] == 0]))
    humans = _long([["A", "A"], ["B", "B"], ["A", "A"], ["B", "B"]])
    pooled = judge_vs_humans(judge, humans, n_resamples=0)
    # modes A, B, A, B vs 12 rows: item0 1,1,0; item1 1,1,1; item2 .5,1,1; item3 0,1,.5
    assert pooled["tie_discounted"] == pytest.approx(9 / 12) and pooled["n"] == 4


def test_orders_first_and_longer() -> None:
    first = label_codes(["A", "A", "B", "tie", None])
    second = label_codes(["A", "B", "B", "A", "A"])
    assert [LABELS[c] if c >= 0 else None for c in combine_orders(first, second)] == ["A", "tie", "B", "tie", None]
    assert prefer_first(["A", "A", "B", "tie", None]) == pytest.approx(2 / 3)
    assert math.isnan(prefer_first(["tie"]))
    from alpaca_eval.analyze import Analyzer

    labels = ["A", "B", "B", "tie", "A", "A"]
    len_1 = np.array([100, 100, 500, 100, 100, 300])
    len_2 = np.array([200, 200, 100, 200, 110, 100])
    ours = prefer_longer(labels, len_1, len_2)
    assert ours == pytest.approx(2 / 4)  # rows 0 (short won), 1 (long), 2 (short), 5 (long)
    analyzer = Analyzer.__new__(Analyzer)
    analyzer.keys, analyzer.annotation_key = ["instruction", "output_1", "output_2"], "preference"
    frame = pd.DataFrame(
        {
            "instruction": [f"q{i}" for i in range(6)],
            "output_1": ["x" * n for n in len_1],
            "output_2": ["y" * n for n in len_2],
            "preference": [LABEL_PREFERENCE[x] for x in labels],
        }
    )
    assert ours == pytest.approx(analyzer.get_length_biases(frame)["probability_prefer_longer"])
    assert math.isnan(prefer_longer(labels, np.full(6, np.nan), np.full(6, np.nan)))
