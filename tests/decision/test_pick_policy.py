"""The checkpoint-picking policy on hand-built results: clear winner, statistical tie, gaps, all invalid."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

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
    power = decision["power"]  # the same computation, carried for every pick
    assert (power["prompts_needed"], power["more_prompts"], power["n"]) == (59, 43, 16)
    assert (power["best"], power["runner_up"]) == ("epoch-3", "epoch-2")
    assert power["sd"] == pytest.approx(differences.std(ddof=1)) and power["difference"] == pytest.approx(12.5)


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


def _power_at(n: int, difference: float, sd: float, level: float = 0.95) -> float:
    """scipy's power of the two-sided z test of a paired mean difference at n prompts (both tails)."""
    z = norm.ppf(1 - (1 - level) / 2)
    shift = abs(difference) * math.sqrt(n) / sd
    return float(norm.cdf(shift - z) + norm.cdf(-shift - z))


def _outcome_rows(outcomes: dict[int, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"model_id": m, "prompt_hash": f"p{i}", "outcome": o} for m, column in outcomes.items() for i, o in enumerate(column)]
    )


def test_a_decided_pick_carries_its_power_guidance() -> None:
    """200 prompts: epoch-6 wins 50 that epoch-5 loses, loses 10 that epoch-5 wins, and the two agree on
    the other 140 (70 both win, 70 both lose): win rates 60 and 40, significantly apart. Per-prompt
    differences: fifty +100, ten -100, 140 zeros -> mean 20, sd sqrt((50*80^2 + 10*120^2 + 140*20^2)/199)
    = 51.118; n = ceil(((1.959964 + 0.841621) * 51.118 / 20)^2) = ceil(51.27) = 52, none more."""
    best = ["win"] * 50 + ["loss"] * 10 + ["win"] * 70 + ["loss"] * 70
    runner_up = ["loss"] * 50 + ["win"] * 10 + ["win"] * 70 + ["loss"] * 70
    decision = choose(_outcome_rows({5: runner_up, 6: best}), _likert({}), _checkpoints([5, 6]), n_resamples=2000)
    assert decision["chosen"] == "epoch-6" and decision["decided"] is True
    assert decision["prompts_to_separate"] is None and decision["more_prompts_to_separate"] is None  # the tie rule's: unchanged
    power = decision["power"]
    differences = np.array([100.0] * 50 + [-100.0] * 10 + [0.0] * 140)
    assert power["difference"] == pytest.approx(20.0) and power["sd"] == pytest.approx(differences.std(ddof=1))
    assert power["sd"] == pytest.approx(51.118, abs=1e-3)
    assert (power["n"], power["prompts_needed"], power["more_prompts"], power["reason"]) == (200, 52, 0, None)
    assert (power["power"], power["level"], power["best"], power["runner_up"]) == (0.8, 0.95, "epoch-6", "epoch-5")
    assert _power_at(52, 20.0, power["sd"]) >= 0.8 > _power_at(51, 20.0, power["sd"])


def test_power_guidance_without_a_number_says_why() -> None:
    alone = choose(_pairwise({5: 0.6}), _likert({}), _checkpoints([5]), n_resamples=200)["power"]
    assert alone["runner_up"] is None and alone["prompts_needed"] is None and alone["more_prompts"] is None
    assert alone["difference"] is None and "only one checkpoint" in alone["reason"]
    same = ["win", "loss"] * 20
    equal = choose(_outcome_rows({5: same, 6: same}), _likert({}), _checkpoints([5, 6]), n_resamples=200)["power"]
    assert equal["difference"] == 0 and equal["prompts_needed"] is None and "difference is 0" in equal["reason"]


def test_the_pick_lines_end_with_the_power_guidance() -> None:
    from evalkit.cli.commands.pick import decision_lines

    row = {"name": "epoch-9", "win_rate": 60.0, "likert_mean": float("nan"), "n_valid": 16, "tied_with_best": False}
    power = {"best": "epoch-9", "runner_up": "epoch-8", "difference": 12.5, "sd": 34.16, "n": 16}
    power |= {"prompts_needed": 59, "more_prompts": 43, "power": 0.8, "level": 0.95, "reason": None}
    decision = {"chosen": "epoch-9", "epoch": 9, "decided": True, "reason": "...", "evidence": [row], "power": power}
    assert decision_lines(decision)[-1] == (
        "about 59 prompts (43 more) would separate epoch-9 from epoch-8 with 80% power at the observed difference "
        "of +12.5 win-rate points (95% two-sided)"
    )
    enough = decision_lines({**decision, "power": {**power, "n": 200, "more_prompts": 0}})[-1]
    assert enough.startswith("about 59 prompts (0 more: the 200 compared are enough) would separate epoch-9")
    alone = {**power, "runner_up": None, "prompts_needed": None, "more_prompts": None, "reason": "only one checkpoint"}
    assert decision_lines({**decision, "power": alone})[-1] == "no power guidance: only one checkpoint"
    assert len(decision_lines({k: v for k, v in decision.items() if k != "power"})) == 2  # a record made before it
