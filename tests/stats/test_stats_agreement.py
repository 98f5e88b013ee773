"""Agreement between raters: LIMA's tie-discounted accuracy by hand, Cohen's kappa against
scikit-learn, the vs-mode protocol and length bias against alpaca-eval's analyze.Analyzer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.stats.agreement import (
    LABEL_PREFERENCE,
    agreement_pairs,
    agreement_square,
    length_bias,
    pair_agreement,
    position_consistency,
    vs_mode,
)

labels_strategy = st.sampled_from(["A", "B", "tie"])


def _long(matrix: list[list[str]], raters: list[str] | None = None) -> pd.DataFrame:
    raters = raters or [f"r{j}" for j in range(len(matrix[0]))]
    return pd.DataFrame(
        [
            {"item": i, "rater": raters[j], "label": label}
            for i, row in enumerate(matrix)
            for j, label in enumerate(row)
            if label is not None
        ]
    )


def _analyzer(frame: pd.DataFrame, n_annotators: int):
    from alpaca_eval.analyze import Analyzer

    return Analyzer(
        gold_crossannotations=frame.copy(), gold_annotations=frame.copy(), n_annotators=n_annotators, scoring_rule="absolute"
    )


def _cross(matrix: list[list[str]]) -> pd.DataFrame:
    """AlpacaEval crossannotations: one row per (item, rater), raters in the same order for every item."""
    return pd.DataFrame(
        [
            {"instruction": f"q{i}", "output_1": f"a{i}", "output_2": f"b{i}", "preference": LABEL_PREFERENCE[label]}
            for i, row in enumerate(matrix)
            for label in row
        ]
    )


def test_lima_tie_discounted_hand_worked() -> None:
    a = ["A", "A", "tie", "B", "tie", "B"]
    b = ["A", "B", "A", "B", "tie", "tie"]
    result = pair_agreement(a, b)
    # points: 1, 0, 0.5, 1, 1, 0.5
    assert result["tie_discounted"] == pytest.approx(4 / 6)
    assert result["agreement"] == pytest.approx(3 / 6)
    assert result["agreement_without_ties"] == pytest.approx(2 / 3)  # items 0, 1, 3
    assert result["n"] == 6


def test_cohen_kappa_hand_worked() -> None:
    # 10 items, 2 labels: observed 0.7, marginals (0.5, 0.5) and (0.6, 0.4): expected 0.5 -> kappa 0.4
    a = ["A"] * 5 + ["B"] * 5
    b = ["A", "A", "A", "A", "B", "A", "A", "B", "B", "B"]
    assert pair_agreement(a, b)["cohen_kappa"] == pytest.approx(0.4)
    assert math.isnan(pair_agreement(["A", "A"], ["A", "A"])["cohen_kappa"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(labels_strategy, labels_strategy), min_size=2, max_size=30))
def test_cohen_kappa_matches_sklearn(pairs: list[tuple[str, str]]) -> None:
    from sklearn.metrics import cohen_kappa_score

    a, b = zip(*pairs)
    ours = pair_agreement(a, b)["cohen_kappa"]
    if len(set(a) | set(b)) == 1:
        assert math.isnan(ours)
        return
    assert ours == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(labels_strategy, labels_strategy), min_size=1, max_size=30))
def test_pair_metrics_are_symmetric_and_ignore_which_answer_is_called_a(pairs: list[tuple[str, str]]) -> None:
    a, b = zip(*pairs)
    swap = {"A": "B", "B": "A", "tie": "tie"}
    forward, backward = pair_agreement(a, b), pair_agreement(b, a)
    relabelled = pair_agreement([swap[x] for x in a], [swap[x] for x in b])
    for other in (backward, relabelled):
        for key, value in forward.items():
            assert (math.isnan(value) and math.isnan(other[key])) or value == pytest.approx(other[key]), key


def test_pairs_and_square() -> None:
    frame = _long([["A", "A", "B"], ["tie", "A", None], ["B", "B", "B"]], ["ann", "bob", "gpt"])
    pairs = {(p["rater_a"], p["rater_b"]): p for p in agreement_pairs(frame)}
    assert set(pairs) == {("ann", "bob"), ("ann", "gpt"), ("bob", "gpt")}
    assert pairs[("ann", "bob")]["n"] == 3 and pairs[("ann", "bob")]["tie_discounted"] == pytest.approx(2.5 / 3)
    assert pairs[("ann", "gpt")]["n"] == 2 and pairs[("ann", "gpt")]["tie_discounted"] == pytest.approx(0.5)
    square = agreement_square(list(pairs.values()))
    assert square.loc["gpt", "ann"] == square.loc["ann", "gpt"] == pytest.approx(0.5)
    assert square.loc["bob", "bob"] == 1.0


def test_raters_without_shared_items_are_not_paired() -> None:
    frame = pd.DataFrame([{"item": 1, "rater": "x", "label": "A"}, {"item": 2, "rater": "y", "label": "B"}])
    assert agreement_pairs(frame) == []
    assert all(math.isnan(v) for v in vs_mode(frame).values())


def test_duplicate_labels_are_refused() -> None:
    frame = pd.DataFrame([{"item": 1, "rater": "x", "label": "A"}, {"item": 1, "rater": "x", "label": "B"}])
    with pytest.raises(ValueError, match="more than once"):
        agreement_pairs(frame)


def test_modal_ties_are_broken_like_alpaca_eval() -> None:
    from alpaca_eval.metrics.helpers import _random_mode

    # others' labels with two or three modes: the pick must be the one alpaca_eval's _random_mode makes
    for others in (["A", "B"], ["A", "tie"], ["tie", "B"], ["A", "tie", "B"]):
        expected = _random_mode(pd.Series([LABEL_PREFERENCE[x] for x in others]))
        frame = _long([["A", *others]], ["judge", *[f"h{i}" for i in range(len(others))]])
        score = vs_mode(frame, pool=[f"h{i}" for i in range(len(others))])["judge"]
        assert score == pytest.approx(1 - abs(1.0 - expected)), others


@pytest.mark.slow  # 25 generated matrices through alpaca_eval's analyzer
@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(labels_strategy, min_size=4, max_size=4), min_size=2, max_size=12))
def test_humans_vs_mode_matches_alpaca_eval_analyzer(matrix: list[list[str]]) -> None:
    ours = vs_mode(_long(matrix))
    analyzer = _analyzer(_cross(matrix), n_annotators=4)
    theirs = analyzer.agreement_of_annotations("gold_crossannotations", n_majority_vote_1=1)["score"]
    assert np.mean(list(ours.values())) == pytest.approx(theirs, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(labels_strategy, st.lists(labels_strategy, min_size=4, max_size=4)), min_size=2, max_size=12))
def test_judge_vs_human_mode_matches_alpaca_eval_analyzer(rows: list[tuple[str, list[str]]]) -> None:
    judge, humans = [r[0] for r in rows], [r[1] for r in rows]
    frame = _long([[j, *h] for j, h in zip(judge, humans)], ["judge", "h0", "h1", "h2", "h3"])
    ours = vs_mode(frame, pool=["h0", "h1", "h2", "h3"])["judge"]
    analyzer = _analyzer(_cross(humans), n_annotators=4)
    judge_frame = _cross([[label] for label in judge])
    theirs = analyzer.agreement_of_annotations(judge_frame, n_majority_vote_1=1, n_majority_vote_2=None)["score"]
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_vs_mode_hand_worked() -> None:
    frame = _long([["A", "A", "A"], ["A", "B", "B"], ["tie", "B", "B"]])
    result = vs_mode(frame)
    # r0 vs mode(r1, r2): A=A -> 1, A vs B -> 0, tie vs B -> 0.5
    assert result["r0"] == pytest.approx(1.5 / 3)


def test_position_consistency_hand_worked() -> None:
    ab = ["A", "A", "B", "tie", "A", None, "tie"]
    ba = ["B", "A", "A", "tie", "tie", "B", "A"]
    result = position_consistency(ab, ba)
    assert result["n"] == 6
    assert result["consistent"] == pytest.approx(3 / 6)  # (A,B), (B,A), (tie,tie)
    # decisive verdicts: AB: A, A, B, A; BA: B, A, A, A -> first shown picked 6 of 8
    assert result["first_position_rate"] == pytest.approx(6 / 8)


def test_length_bias_hand_worked_and_against_analyzer() -> None:
    from alpaca_eval.analyze import Analyzer

    prefs = np.array([1.0, 2.0, 2.0, 1.5, 1.0, 1.2, np.nan, 1.9])
    len_1 = np.array([100, 100, 500, 100, 100, 300, 100, 100])
    len_2 = np.array([200, 200, 100, 200, 110, 100, 900, 150])
    result = length_bias(prefs, len_1, len_2)
    # decided and differing by > 30: rows 0 (short won), 1 (long won), 2 (short won), 5 (long won), 7 (long won);
    # row 3 is a tie (no winner), row 4 differs by 10, row 6 is missing
    assert result == {"n": 5, "prefer_longer": pytest.approx(3 / 5)}
    frame = pd.DataFrame(
        {
            "instruction": [f"q{i}" for i in range(8)],
            "output_1": ["x" * int(n) for n in len_1],
            "output_2": ["y" * int(n) for n in len_2],
            "preference": prefs,
        }
    )
    analyzer = Analyzer.__new__(Analyzer)  # get_length_biases only needs keys and the preference column name
    analyzer.keys, analyzer.annotation_key = ["instruction", "output_1", "output_2"], "preference"
    theirs = analyzer.get_length_biases(frame)["probability_prefer_longer"]
    assert result["prefer_longer"] == pytest.approx(theirs)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from([1.0, 1.5, 2.0, math.nan]), st.floats(1.0, 2.0)), st.integers(0, 120), st.integers(0, 120)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_length_bias_matches_analyzer_on_random_rows(rows: list[tuple[float, int, int]]) -> None:
    from alpaca_eval.analyze import Analyzer

    prefs, len_1, len_2 = (np.array(column, dtype=float) for column in zip(*rows))
    frame = pd.DataFrame(
        {
            "instruction": [f"q{i}" for i in range(len(rows))],
            "output_1": ["x" * int(n) for n in len_1],
            "output_2": ["y" * int(n) for n in len_2],
            "preference": prefs,
        }
    )
    analyzer = Analyzer.__new__(Analyzer)
    analyzer.keys, analyzer.annotation_key = ["instruction", "output_1", "output_2"], "preference"
    theirs = analyzer.get_length_biases(frame)["probability_prefer_longer"]
    ours = length_bias(prefs, len_1, len_2)["prefer_longer"]
    assert (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(theirs)
