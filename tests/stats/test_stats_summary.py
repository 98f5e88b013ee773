"""Store-table summaries on hand-built tables shaped like evalkit.results.tables output, checked
against the per-group functions and alpaca-eval's get_winrate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evalkit.stats.bootstrap import bootstrap_mean_interval
from evalkit.stats.head_to_head import compare_likert, compare_pairwise, rank_models, resolve_model
from evalkit.stats.length_controlled import VARIANT_MINIMAL, minimal_glm_winrate
from evalkit.stats.summary import PAIRWISE_COLUMNS, summarize_likert, summarize_pairwise
from evalkit.stats.winrate import alpaca_winrate

PREFERENCE = {"win": 2.0, "tie": 1.5, "loss": 1.0, "invalid": np.nan}


def pairwise_table(n_prompts: int = 60, seed: int = 0) -> pd.DataFrame:
    """Two checkpoints (ids 1, 2) against a baseline (id 9), judged by two judges."""
    rng = np.random.default_rng(seed)
    rows = []
    for judge in ("gpt-4", "local"):
        for model, model_id, p_win in (("ckpt/epoch-5", 1, 0.45), ("ckpt/epoch-7", 2, 0.6)):
            for prompt in range(n_prompts):
                outcome = rng.choice(["win", "tie", "loss", "invalid"], p=[p_win, 0.1, 0.85 - p_win, 0.05])
                rows.append(
                    {
                        "judge_kind": "pairwise",
                        "judge_model": judge,
                        "judge_spec_hash": f"spec-{judge}",
                        "prompt_hash": f"p{prompt:03d}",
                        "instruction": f"question {prompt}",
                        "model": model,
                        "model_id": model_id,
                        "decoding": "d1",
                        "baseline": "davinci-003",
                        "baseline_id": 9,
                        "baseline_decoding": "d0",
                        "generation_a": model_id * 1000 + prompt,
                        "generation_b": 9000 + prompt,
                        "verdict_ab": outcome if outcome != "invalid" else None,
                        "verdict_ba": outcome if outcome != "invalid" else None,
                        "outcome": outcome,
                        "preference": PREFERENCE[outcome],
                        "model_len": int(rng.integers(100, 900)),
                        "baseline_len": int(rng.integers(100, 900)),
                    }
                )
    return pd.DataFrame(rows)


def likert_table(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for model, model_id, centre in (("ckpt/epoch-5", 1, 3.5), ("ckpt/epoch-7", 2, 4.5)):
        for prompt in range(40):
            for sample in range(2):
                valid = rng.uniform() > 0.05
                score = float(np.clip(round(rng.normal(centre, 1)), 1, 6))
                rows.append(
                    {
                        "judge_model": "gpt-4",
                        "judge_spec_hash": "spec-likert",
                        "judge_kind": "likert",
                        "prompt_hash": f"p{prompt:03d}",
                        "instruction": f"question {prompt}",
                        "model": model,
                        "model_id": model_id,
                        "sample": sample,
                        "score": score if valid else np.nan,
                        "valid": valid,
                    }
                )
    return pd.DataFrame(rows)


def test_pairwise_summary_rows_equal_the_per_group_functions() -> None:
    from alpaca_eval.metrics import get_winrate

    table = pairwise_table()
    summary = summarize_pairwise(table, n_resamples=500, seed=2)
    assert list(summary.columns) == list(PAIRWISE_COLUMNS)
    assert len(summary) == 4
    for row in summary.itertuples(index=False):
        group = table[(table["judge_model"] == row.judge_model) & (table["model_id"] == row.model_id)]
        expected = alpaca_winrate(group["preference"])
        theirs = get_winrate(group[["preference"]].dropna())
        assert row.win_rate == pytest.approx(expected["win_rate"]) == pytest.approx(theirs["win_rate"])
        assert row.standard_error == pytest.approx(theirs["standard_error"])
        assert row.n_total == theirs["n_total"] and row.n_draws == theirs["n_draws"]
        counts = group["outcome"].value_counts()
        valid = len(group) - counts.get("invalid", 0)
        assert row.n == valid and row.n_invalid == counts.get("invalid", 0)
        assert row.win_pct == pytest.approx(100 * counts.get("win", 0) / valid)
        assert row.tie_pct + row.win_pct + row.loss_pct == pytest.approx(100)
        # every group here covers every prompt, so the shared resamples are exactly the group's own
        low, high = bootstrap_mean_interval(
            (group["preference"].to_numpy() - 1) * 100, group["prompt_hash"].to_numpy(), n_resamples=500, seed=2
        )
        assert (row.ci_low, row.ci_high) == (pytest.approx(low), pytest.approx(high))
        lc = minimal_glm_winrate(group["preference"], group["baseline_len"], group["model_len"])
        assert row.length_controlled_winrate == pytest.approx(lc["length_controlled_winrate"])
        assert row.lc_standard_error == pytest.approx(lc["lc_standard_error"]) and row.lc_standard_error > 0
        assert row.lc_variant == VARIANT_MINIMAL and row.lc_withheld is None
        assert row.avg_model_len == pytest.approx(group["model_len"].mean())


def test_lc_withheld_in_the_summary_when_lengths_are_one_sided() -> None:
    """The summary row carries the rule's verdict: no number, no standard error, the variant and why."""
    table = pairwise_table()
    table["model_len"] = table["baseline_len"] - 50  # every answer shorter than the baseline's
    summary = summarize_pairwise(table, n_resamples=50, seed=2)
    assert summary["length_controlled_winrate"].isna().all() and summary["lc_standard_error"].isna().all()
    assert (summary["lc_variant"] == VARIANT_MINIMAL).all()
    assert summary["lc_withheld"].str.contains("shorter than the baseline's on 100% of pairs").all()


def test_summaries_list_models_in_natural_epoch_order() -> None:
    """epoch-2 before epoch-10 (plain string order would put epoch-10 second)."""
    names = {1: "ckpt/epoch-1", 2: "ckpt/epoch-10", 3: "ckpt/epoch-2"}
    table = pd.concat([pairwise_table(10).assign(model=name, model_id=i) for i, name in names.items()], ignore_index=True)
    table = table[table["judge_model"] == "gpt-4"]
    summary = summarize_pairwise(table, n_resamples=10, length_controlled=False)
    assert list(summary["model"]) == ["ckpt/epoch-1", "ckpt/epoch-2", "ckpt/epoch-10"]
    likert = pd.concat([likert_table().assign(model=name, model_id=i) for i, name in names.items()], ignore_index=True)
    assert list(summarize_likert(likert, n_resamples=10)["model"]) == ["ckpt/epoch-1", "ckpt/epoch-2", "ckpt/epoch-10"]


def test_pairwise_summary_without_lc_and_empty() -> None:
    summary = summarize_pairwise(pairwise_table(20), n_resamples=100, length_controlled=False)
    assert summary["length_controlled_winrate"].isna().all()
    assert summarize_pairwise(pd.DataFrame(columns=PAIRWISE_COLUMNS[:7])).empty


def test_outcome_only_tables_get_preferences() -> None:
    table = pd.DataFrame({"model": ["m"] * 4, "baseline": ["b"] * 4, "outcome": ["win", "win", "tie", "loss"]})
    row = summarize_pairwise(table, n_resamples=100).iloc[0]
    assert row["win_rate"] == pytest.approx(62.5) and row["n_wins"] == 2 and row["n_draws"] == 1


def test_likert_summary_rows() -> None:
    table = likert_table()
    summary = summarize_likert(table, n_resamples=500, seed=4)
    assert len(summary) == 2
    for row in summary.itertuples(index=False):
        group = table[table["model_id"] == row.model_id]
        valid = group.loc[group["valid"], "score"]
        # One definition: a prompt's valid samples averaged first, then the prompts.
        per_prompt = group[group["valid"]].groupby("prompt_hash")["score"].mean()
        assert row.n == len(per_prompt) and row.n_samples == len(valid) and row.n_invalid == int((~group["valid"]).sum())
        assert row.mean == pytest.approx(per_prompt.mean())
        assert row.pct_score_5 == pytest.approx(100 * (valid == 5).mean())
        low, high = bootstrap_mean_interval(per_prompt.to_numpy(), per_prompt.index.to_numpy(), n_resamples=500, seed=4)
        assert (row.ci_low, row.ci_high) == (pytest.approx(low), pytest.approx(high))


def test_invalid_likert_rows_never_count_as_scores() -> None:
    table = likert_table().assign(score=lambda f: f["score"].fillna(1.0))  # a stale score on an invalid row
    summary = summarize_likert(table, n_resamples=50)
    reference = summarize_likert(likert_table(), n_resamples=50)
    assert summary["mean"].tolist() == pytest.approx(reference["mean"].tolist())


def test_compare_pairwise_by_hand() -> None:
    table = pairwise_table()
    result = compare_pairwise(table, "ckpt/epoch-7", "ckpt/epoch-5", n_resamples=400, seed=1)
    assert len(result) == 2  # one per judge
    row = result[result["judge_model"] == "gpt-4"].iloc[0]
    gpt = table[table["judge_model"] == "gpt-4"].set_index("prompt_hash")
    a = gpt.loc[gpt["model_id"] == 2, "preference"] - 1
    b = gpt.loc[gpt["model_id"] == 1, "preference"] - 1
    both = a.notna() & b.notna()
    assert row["n"] == both.sum()
    assert row["difference"] == pytest.approx(100 * (a[both] - b[both]).mean())
    assert row["n_a_better"] == int((a[both] > b[both]).sum()) and row["n_b_better"] == int((a[both] < b[both]).sum())
    assert row["ci_low"] <= row["difference"] <= row["ci_high"]
    assert 0 <= row["p_sign"] <= 1 and 0 <= row["p_bootstrap"] <= 1


def test_compare_likert_by_hand() -> None:
    from scipy.stats import wilcoxon

    table = likert_table()
    row = compare_likert(table, 2, 1, n_resamples=400).iloc[0]
    per_prompt = table.assign(score=table["score"].where(table["valid"])).groupby(["model_id", "prompt_hash"])["score"].mean()
    a, b = per_prompt[2], per_prompt[1]
    both = a.notna() & b.notna()
    assert row["difference"] == pytest.approx((a[both] - b[both]).mean())
    assert row["p_wilcoxon"] == pytest.approx(wilcoxon(a[both], b[both]).pvalue)
    assert row["difference"] > 0 and row["p_wilcoxon"] < 0.01


def test_resolve_model() -> None:
    table = pairwise_table(5)
    assert resolve_model(table, "ckpt/epoch-5") == 1 and resolve_model(table, "9") == 9
    assert resolve_model(table, "davinci-003") == 9
    with pytest.raises(ValueError, match="no judgments"):
        resolve_model(table, "nope")
    twins = pd.concat([table, table.assign(model_id=3)])
    with pytest.raises(ValueError, match="several models"):
        resolve_model(twins, "ckpt/epoch-5")


def test_rank_models_per_judge() -> None:
    ranking = rank_models(pairwise_table(200), n_resamples=300)
    assert set(ranking["judge_model"]) == {"gpt-4", "local"}
    gpt = ranking[ranking["judge_model"] == "gpt-4"]
    assert gpt["model"].tolist() == ["ckpt/epoch-7", "davinci-003", "ckpt/epoch-5"]
    assert gpt["rank"].tolist() == [1, 2, 3]
    assert not math.isnan(gpt["ci_low"].iloc[0])


def test_intervals_do_not_depend_on_the_rows_order() -> None:
    """The same judgments stored in another order (concurrent requests finish in any order) give the same
    intervals to the bit: prompts are numbered by hash, not by first appearance."""
    for table, summarize in ((pairwise_table(), summarize_pairwise), (likert_table(), summarize_likert)):
        first = summarize(table, n_resamples=2000)
        for seed in range(3):
            shuffled = summarize(table.sample(frac=1.0, random_state=seed), n_resamples=2000)
            pd.testing.assert_frame_equal(shuffled[["ci_low", "ci_high"]], first[["ci_low", "ci_high"]])
