"""Policy combined-likert-earliest on hand-built figures: it ranks on the combined (human + judge)
estimate where the judge alone would pick another checkpoint, calls a tie by the conservative normal
interval of the difference, refuses a window without human labels, and carries the human-label power."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from evalkit.cli.commands.pick import decision_lines
from evalkit.core.errors import EvalkitError
from evalkit.decision.policy import COMBINED_POLICY, choose
from evalkit.stats.human_label_power import Estimate, human_labels_to_separate


def _checkpoints(epochs: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"model_id": epochs, "name": [f"epoch-{e}" for e in epochs], "epoch": epochs})


def _pairwise(win_probability: dict[int, float], n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for model_id, p in win_probability.items():
        wins = rng.random(n) < p
        rows += [{"model_id": model_id, "prompt_hash": f"p{i}", "outcome": "win" if w else "loss"} for i, w in enumerate(wins)]
    return pd.DataFrame(rows)


def _figures(win_rate: dict[int, float], combined: dict[int, tuple[float, float] | None], likert: float = 4.0) -> pd.DataFrame:
    """Per checkpoint: the judge's win rate, and (estimate, standard error) of the combined one with
    its variance split evenly between the judge and human terms (20 labelled of 200 judged prompts)."""
    rows = []
    for model_id, rate in win_rate.items():
        row = {"model_id": model_id, "win_rate": rate, "n_valid": 200, "n_invalid": 0, "likert_mean": likert}
        if combined.get(model_id) is not None:
            value, se = combined[model_id]  # type: ignore[misc]
            row |= {
                "combined": value,
                "combined_ci_low": value - 1.96 * se,
                "combined_ci_high": value + 1.96 * se,
                "n_humans": 20,
                "human_only": value + 1.0,
                "human_only_ci_low": value - 10.0,
                "human_only_ci_high": value + 12.0,
                "ppi_lambda": 0.5,
                "effective_n_humans": 35.0,
                "combined_standard_error": se,
                "combined_judge_variance": se**2 / 2,
                "combined_human_variance": se**2 / 2,
                "n_judge": 200,
            }
        rows.append(row)
    return pd.DataFrame(rows)


def test_ranks_on_the_combined_estimate_where_judge_and_humans_disagree() -> None:
    pairwise = _pairwise({5: 0.3, 6: 0.8})  # the judge clearly prefers epoch 6
    figures = _figures({5: 30.0, 6: 80.0}, {5: (70.0, 3.0), 6: (40.0, 3.0)})  # the humans (combined) epoch 5
    by_judge = choose(pairwise, pd.DataFrame(), _checkpoints([5, 6]), figures=figures, n_resamples=500)
    by_humans = choose(pairwise, pd.DataFrame(), _checkpoints([5, 6]), figures=figures, n_resamples=500, policy=COMBINED_POLICY)
    assert by_judge["chosen"] == "epoch-6" and by_humans["chosen"] == "epoch-5"
    assert by_humans["policy"] == COMBINED_POLICY and by_humans["decided"]
    assert by_humans["reason"].startswith("highest combined") and "conservative" in by_humans["reason"]
    rows = {row["name"]: row for row in by_humans["evidence"]}
    # the difference's SE is sqrt(3^2 + 3^2); its 95% normal interval is 30 -/+ 1.96 * 4.243
    half = norm.ppf(0.975) * math.hypot(3.0, 3.0)
    assert rows["epoch-6"]["vs_best_difference"] == pytest.approx(30.0)
    assert (rows["epoch-6"]["vs_best_ci_low"], rows["epoch-6"]["vs_best_ci_high"]) == pytest.approx((30 - half, 30 + half))
    assert rows["epoch-5"]["combined"] == 70.0 and rows["epoch-5"]["n_humans"] == 20
    power = by_humans["power"]
    assert power["combined_difference"] == pytest.approx(30.0) and power["combined_standard_error"] == pytest.approx(
        math.hypot(3, 3)
    )
    expected = human_labels_to_separate(Estimate(70.0, 4.5, 4.5, 20, 200), Estimate(40.0, 4.5, 4.5, 20, 200))
    assert (power["human_labels_needed"], power["more_human_labels"]) == (
        expected.human_labels_needed,
        expected.more_human_labels,
    )
    assert power["prompts_needed"] is not None  # the judge's prompt guidance stays beside it
    assert decision_lines(by_humans)[-1] == (
        f"about {expected.human_labels_needed} human-labelled prompts over both (0 more: those labelled are enough) would "
        "separate epoch-5 from epoch-6 on the combined win rate with 80% power at the observed difference of +30.0 points"
    )


def test_a_tie_on_the_combined_estimate_goes_to_the_earliest_epoch() -> None:
    figures = _figures({5: 50.0, 6: 52.0}, {5: (55.0, 5.0), 6: (60.0, 5.0)})
    decision = choose(
        _pairwise({5: 0.5, 6: 0.52}),
        pd.DataFrame(),
        _checkpoints([5, 6]),
        figures=figures,
        n_resamples=500,
        policy=COMBINED_POLICY,
    )
    assert decision["chosen"] == "epoch-5" and not decision["decided"] and decision["reason"].startswith("tied")
    assert decision["best_by_win_rate"] == "epoch-6"  # the best by the ranked estimate
    assert all(row["tied_with_best"] for row in decision["evidence"])
    lines = decision_lines(decision)
    assert "combined 55.0 [45.2, 64.8] (20 humans)" in lines[1]
    # half of each estimate's variance is the judge's: no number of labels beats it at a difference of 5
    assert lines[-1] == (
        "no human-label guidance: the judge's own uncertainty is wider than the difference: more prompts are needed first"
    )


def test_refuses_checkpoints_without_human_labels() -> None:
    figures = _figures({5: 50.0, 6: 52.0, 7: 40.0}, {5: (55.0, 5.0)})
    with pytest.raises(EvalkitError, match="needs human labels on every checkpoint.*epoch-6, epoch-7"):
        choose(
            _pairwise({5: 0.5, 6: 0.5, 7: 0.4}), pd.DataFrame(), _checkpoints([5, 6, 7]), figures=figures, policy=COMBINED_POLICY
        )


def test_the_default_policy_shows_combined_figures_only_where_there_are_labels() -> None:
    figures = _figures({5: 50.0, 6: 60.0}, {6: (58.0, 4.0)})
    decision = choose(_pairwise({5: 0.5, 6: 0.6}), pd.DataFrame(), _checkpoints([5, 6]), figures=figures, n_resamples=500)
    rows = {row["name"]: row for row in decision["evidence"]}
    assert rows["epoch-5"]["combined"] is None and rows["epoch-6"]["combined"] == 58.0
    assert decision["power"]["human_labels_needed"] is None
    assert decision["power"]["human_labels_reason"] == "the best and the runner-up do not both have human labels"
