"""The checkpoint-picking policy on hand-built results: clear winner, statistical tie, gaps, all invalid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.core.errors import EvalkitError
from evalkit.decision.policy import choose

OUTCOMES = np.array(["loss", "tie", "win"])


def _checkpoints(epochs: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"model_id": epochs, "name": [f"epoch-{e}" for e in epochs], "epoch": epochs})


def _pairwise(win_probability: dict[int, float], n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for model_id, p in win_probability.items():
        wins = rng.random(n) < p
        rows += [{"model_id": model_id, "prompt_hash": f"p{i}", "outcome": "win" if w else "loss"} for i, w in enumerate(wins)]
    return pd.DataFrame(rows)


def _likert(means: dict[int, float], n: int = 200) -> pd.DataFrame:
    return pd.DataFrame([{"model_id": m, "prompt_hash": f"p{i}", "score": mean} for m, mean in means.items() for i in range(n)])


def test_clear_winner_is_chosen_and_significant() -> None:
    decision = choose(
        _pairwise({5: 0.2, 6: 0.8, 7: 0.3}), _likert({5: 5.0, 6: 2.0, 7: 5.0}), _checkpoints([5, 6, 7]), n_resamples=2000
    )
    assert decision["chosen"] == "epoch-6" and decision["epoch"] == 6
    assert "significantly above" in decision["reason"]
    significance = decision["significance"]
    assert significance["runner_up"] == "epoch-7" and significance["ci_low"] > 0


def test_statistical_tie_goes_to_higher_likert_then_earlier_epoch() -> None:
    same = _pairwise({5: 0.5}, seed=1).assign(model_id=6)
    pairwise = pd.concat([_pairwise({5: 0.5}, seed=1), same, _pairwise({7: 0.1})])
    decision = choose(pairwise, _likert({5: 3.0, 6: 4.0, 7: 6.0}), _checkpoints([5, 6, 7]), n_resamples=2000)
    assert decision["chosen"] == "epoch-6"  # tied with epoch 5 on win rate, higher Likert; epoch 7 clearly worse
    assert "statistically tied" in decision["reason"]
    tied = {row["name"]: row["tied_with_best"] for row in decision["evidence"]}
    assert tied == {"epoch-5": True, "epoch-6": True, "epoch-7": False}
    decision = choose(pairwise, _likert({5: 4.0, 6: 4.0, 7: 6.0}), _checkpoints([5, 6, 7]), n_resamples=2000)
    assert decision["chosen"] == "epoch-5"  # equal Likert: the earlier epoch


def test_missing_epochs_and_checkpoints_without_valid_judgments() -> None:
    pairwise = pd.concat(
        [_pairwise({5: 0.6, 9: 0.4}), pd.DataFrame({"model_id": 8, "prompt_hash": ["p0", "p1"], "outcome": "invalid"})]
    )
    decision = choose(pairwise, _likert({}), _checkpoints([5, 8, 9]), n_resamples=1000)
    assert decision["chosen"] in ("epoch-5", "epoch-9")
    row8 = next(r for r in decision["evidence"] if r["epoch"] == 8)
    assert row8["n_valid"] == 0 and row8["n_invalid"] == 2 and np.isnan(row8["win_rate"])


def test_every_judgment_invalid_is_a_clear_error() -> None:
    pairwise = pd.DataFrame({"model_id": [5, 6], "prompt_hash": ["p0", "p0"], "outcome": ["invalid", "invalid"]})
    with pytest.raises(EvalkitError, match="no valid pairwise judgment"):
        choose(pairwise, _likert({}), _checkpoints([5, 6]))


def test_ties_count_half() -> None:
    pairwise = pd.DataFrame(
        {"model_id": [5, 5, 6, 6], "prompt_hash": ["a", "b", "a", "b"], "outcome": ["tie", "tie", "win", "loss"]}
    )
    decision = choose(pairwise, _likert({}), _checkpoints([5, 6]), n_resamples=500)
    rates = {row["epoch"]: row["win_rate"] for row in decision["evidence"]}
    assert rates == {5: 50.0, 6: 50.0} and decision["chosen"] == "epoch-5"


def test_a_tie_no_grade_separates_is_reported_as_undecided() -> None:
    """The SmolLM2 tour's shape: 16 prompts, best - runner-up interval containing 0, equal grades. The
    earliest epoch is still taken, but the decision says it is a tie and how many prompts would
    separate the two (sample size at the observed difference and SD, 95% two-sided, 80% power)."""
    rows = []
    wins = {2: [1] * 8 + [0] * 8, 3: [1] * 10 + [0] * 6}  # 50.0 vs 62.5 over the same 16 prompts
    for model_id, outcomes in wins.items():
        rows += [
            {"model_id": model_id, "prompt_hash": f"p{i}", "outcome": "win" if w else "loss"} for i, w in enumerate(outcomes)
        ]
    decision = choose(pd.DataFrame(rows), _likert({2: 4.0, 3: 4.0}, n=16), _checkpoints([2, 3]), n_resamples=2000)
    assert decision["chosen"] == "epoch-2" and decision["best_by_win_rate"] == "epoch-3"
    assert decision["decided"] is False
    assert decision["reason"].startswith("tied: epoch-2, epoch-3 cannot be told apart")
    significance = decision["significance"]
    assert significance["ci_low"] <= 0 <= significance["ci_high"]
    # per-prompt differences: two prompts +100, fourteen 0 -> mean 12.5, sd 34.16; n = ceil((2.8016 * 34.16 / 12.5)^2) = 59
    differences = np.array([100.0] * 2 + [0.0] * 14)
    assert significance["standard_error"] == pytest.approx(differences.std(ddof=1) / 4)
    assert decision["prompts_to_separate"] == 59 and decision["more_prompts_to_separate"] == 43
    assert "about 59 prompts (43 more) would separate them" in decision["reason"]


def test_a_grade_that_separates_a_tie_decides_it() -> None:
    same = _pairwise({5: 0.5}, seed=1).assign(model_id=6)
    pairwise = pd.concat([_pairwise({5: 0.5}, seed=1), same])
    decision = choose(pairwise, _likert({5: 3.0, 6: 4.0}), _checkpoints([5, 6]), n_resamples=500)
    assert decision["chosen"] == "epoch-6" and decision["decided"] is True and decision["prompts_to_separate"] is None
    clear = choose(_pairwise({5: 0.2, 6: 0.8}), _likert({}), _checkpoints([5, 6]), n_resamples=500)
    assert clear["decided"] is True and clear["prompts_to_separate"] is None


def test_the_pick_lines_say_tied_before_the_checkpoint_taken() -> None:
    from evalkit.cli.commands.pick import decision_lines

    row = {"name": "epoch-2", "win_rate": 56.25, "likert_mean": 4.125, "n_valid": 16, "tied_with_best": True}
    tied = {"chosen": "epoch-2", "epoch": 2, "decided": False, "reason": "tied: ...", "evidence": [row]}
    lines = decision_lines(tied)
    assert lines[0] == "no checkpoint is better on this evidence; took epoch-2 (epoch 2): tied: ..."
    assert "win rate  56.3  likert  4.13" in lines[1]  # half up, as on the leaderboard (format() gives 56.2, 4.12)
    assert decision_lines({**tied, "decided": True})[0].startswith("picked epoch-2")
