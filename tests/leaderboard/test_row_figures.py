"""row_figures reads the comparing rows a few models at a time and gives exactly what the snapshot's
functions give on every row at once: the LC table (row_reference.length_control_table), the judges' bias
(agreement.judge_biases) and the length bins (tables.length_bins), on SQLite and PostgreSQL.

The store has the reading rules' corner cases (tests/results/corner_cases.py's: re-judged pairs,
a pair judged in one order, invalid judgments, undeclared judge kinds), two prompt sets, and models
that are both a baseline and an evaluated model (a baseline judged against the other baseline, a
checkpoint against an earlier one), so a chunk's read holds rows that belong to another chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.leaderboard_data import ALPACA_JUDGE, BASELINES, PAIRWISE_JUDGE, _judgment
from evalkit.core.records import PromptSet
from evalkit.leaderboard.judged_rows import judged_tables
from evalkit.leaderboard.row_figures import RowFigures, row_figures, row_figures_at
from evalkit.leaderboard.snapshot import LC_COLUMNS, scopes_of
from evalkit.leaderboard.snapshot_build import compared_pairs
from evalkit.leaderboard.tables import length_bins
from evalkit.results.agreement import BIAS_COLUMNS, judge_biases
from evalkit.results.tally_summary import PromptTallies
from evalkit.store import Store
from evalkit.store.catalog_reads import prompt_set_members
from tests.leaderboard.row_reference import length_control_table
from tests.results.corner_cases import add_corner_cases, add_judgments

HALF = "half"  # a second prompt set: the first 15 of the bench set's 25 prompts


def _cross_comparisons(store: Store) -> None:
    """Baselines that are evaluated models too: the first baseline judged against the second (verdicts
    in both orders), and the last checkpoint against the first (verdicts and preferences), on every
    prompt; answers of similar length, so their LC win rates are not withheld."""
    generations = store.generations()
    by_model = {name: dict(zip(rows["prompt_hash"], rows["id"])) for name, rows in generations.groupby("model_name")}
    rng = np.random.default_rng(7)
    judgments = []
    pairs = ((BASELINES[0], BASELINES[1]), ("run-0/epoch-3", "run-0/epoch-1"))
    for model, baseline in pairs:
        for prompt_hash, answer in by_model[model].items():
            against = int(by_model[baseline][prompt_hash])
            for order in ("AB", "BA"):
                verdict = str(rng.choice(["A", "B", "tie"]))
                judgments.append(_judgment("pairwise", PAIRWISE_JUDGE, prompt_hash, int(answer), against, order, "x", verdict))
            if model.startswith("run-"):
                score = float(1 + rng.random())
                judgments.append(
                    _judgment("alpaca_eval", ALPACA_JUDGE, prompt_hash, int(answer), against, "AB", "m", score=score)
                )
    add_judgments(store, judgments)


def _populated(store: Store) -> Store:
    add_corner_cases(store)  # 3 checkpoints x 25 prompts, two baselines, and the corner cases
    _cross_comparisons(store)
    bench = store.load_prompt_set("bench")
    store.save_prompt_set(PromptSet(HALF, bench.prompts[:15], "bench"))
    return store


def _expected(store: Store) -> tuple[RowFigures, dict[str, frozenset[str]]]:
    """The snapshot's way: every row read at once, then the existing functions."""
    tables = judged_tables(store)
    judged = set().union(*(frame["prompt_hash"] for frame in (tables.pairwise, tables.alpaca, tables.single)))
    prompt_sets = prompt_set_members(store)
    both = tables.comparisons
    expected = RowFigures(
        length_control_table(both, prompt_sets, judged),
        pd.DataFrame(judge_biases(both), columns=BIAS_COLUMNS),
        length_bins(both),
    )
    return expected, scopes_of(prompt_sets, judged)


def _assert_equal(got: RowFigures, expected: RowFigures) -> None:
    for name in ("lc", "judge_bias", "length_bins"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), rtol=1e-9)


def _check(store: Store) -> None:
    expected, scopes = _expected(store)
    # the figures are worth comparing: both scopes, LC numbers (not only withheld ones), every judge but the one-order one
    assert set(scopes) == {"All prompts", HALF}
    assert set(expected.lc["scope"]) == set(scopes)
    assert expected.lc["length_controlled_winrate"].notna().sum() >= 4
    assert expected.lc["lc_withheld"].notna().any()
    assert len(expected.judge_bias) == 3 and expected.judge_bias["n_both_orders"].gt(0).sum() == 2
    assert not expected.length_bins.empty
    for models_per_chunk in (1, 2, 1000):
        _assert_equal(row_figures(store, scopes, compared_pairs(PromptTallies.read(store)), models_per_chunk), expected)


def test_row_figures_equal_the_functions_on_every_row_on_sqlite(tmp_path: Path) -> None:
    _check(_populated(Store(f"sqlite:///{tmp_path / 'store.db'}")))


def test_row_figures_equal_the_functions_on_every_row_on_postgres(pg_url: str) -> None:
    _check(_populated(Store(pg_url)))


def test_given_pairs_and_the_store_url_give_the_same_figures(tmp_path: Path) -> None:
    """The worker's entry point, with the pairs a snapshot already has instead of asking the database."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = _populated(Store(url))
    expected, scopes = _expected(store)
    pairs = compared_pairs(PromptTallies.read(store))
    store.close()
    assert len(pairs) == 2 * 3 + 2  # every checkpoint against both baselines, and the two cross pairs
    _assert_equal(row_figures_at(url, scopes, pairs), expected)


def test_a_missing_baseline_would_change_the_figures(tmp_path: Path) -> None:
    """The comparison can fail: without the cross pairs' baselines, their rows are not read."""
    store = _populated(Store(f"sqlite:///{tmp_path / 'store.db'}"))
    expected, scopes = _expected(store)
    pairs = compared_pairs(PromptTallies.read(store))
    first_baseline = int(store.model_id(BASELINES[0]))
    partial = pairs[pairs["model_id"] != first_baseline]
    got = row_figures(store, scopes, partial, models_per_chunk=1)
    assert len(got.lc) < len(expected.lc)
    with pytest.raises(AssertionError):
        _assert_equal(got, expected)


def test_a_store_without_comparisons_gives_empty_figures(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    got = row_figures(store, {"All prompts": frozenset()}, compared_pairs(PromptTallies.read(store)))
    assert got.lc.empty and list(got.lc.columns) == LC_COLUMNS
    assert got.judge_bias.empty and list(got.judge_bias.columns) == BIAS_COLUMNS
    assert got.length_bins.empty


def test_the_pairs_from_the_tallies_count_the_comparing_rows(tmp_path: Path) -> None:
    """The snapshot's `pairs` (from the database's tallies) hold each (model, baseline)'s comparing rows,
    as counted on the rows themselves, most first."""
    store = _populated(Store(f"sqlite:///{tmp_path / 'store.db'}"))
    comparisons = judged_tables(store).comparisons
    counts = comparisons.groupby(["model_id", "baseline_id"]).size().sort_values(ascending=False, kind="stable")
    expected = counts.rename("n").reset_index().astype("int64")
    pd.testing.assert_frame_equal(compared_pairs(PromptTallies.read(store)), expected)
