"""The database's tallies (evalkit.store.aggregates, via evalkit.results.aggregated.point_summary) give
the very figures the pandas summary (`summarize`) gives, on SQLite and PostgreSQL, including the
reading rules' corner cases: re-judged pairs (the latest counts), pairs judged in one order only,
invalid judgments, shared judgments, several grade samples per answer, undeclared judge kinds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from bench.leaderboard_data import ALPACA_JUDGE, BASELINES, LIKERT_JUDGE, PAIRWISE_JUDGE, _judgment, populate
from evalkit.core.records import Judgment
from evalkit.results.aggregated import point_summary, refresh_point_summary
from evalkit.results.summary import Summary, summarize
from evalkit.results.tables import read_tables
from evalkit.store import Store, aggregates
from tests.fixtures import postgres

SKIPPED = ["ci_low", "ci_high"]  # intervals come from the full summary, later


def _add(store: Store, judgments: list[Judgment]) -> None:
    uses = []
    for judgment in judgments:
        assert judgment.generation_a is not None
        uses.append((judgment.cache_key, judgment.generation_a, judgment.generation_b))
    store.add_judgments_with_uses(judgments, uses)


def _corner_cases(store: Store) -> None:
    data = populate(store, runs=1, epochs=3, prompts=25, with_decisions=False)
    gens, base = data.generation_ids, BASELINES[0]
    first, second, third = data.checkpoints
    hashes = list(gens[first])
    a, b = gens[first][hashes[0]], gens[base][hashes[0]]
    later = [
        # re-judged: the latest of (judge, pair, order) replaces the first verdict
        _judgment("pairwise", PAIRWISE_JUDGE, hashes[0], a, b, "AB", "again", "B", sample=1),
        _judgment("pairwise", PAIRWISE_JUDGE, hashes[0], a, b, "BA", "again", "A", sample=1),
        # an invalid order makes the pair invalid; a pair judged in one order only is left out
        _judgment(
            "pairwise",
            PAIRWISE_JUDGE,
            hashes[1],
            gens[second][hashes[1]],
            gens[base][hashes[1]],
            "AB",
            "?",
            valid=False,
            sample=1,
        ),
        _judgment("pairwise", "other-judge", hashes[2], gens[second][hashes[2]], gens[base][hashes[2]], "AB", "x", "A"),
        # preference judge: invalid, exactly a tie, a zero read as a tie
        _judgment(
            "alpaca_eval",
            ALPACA_JUDGE,
            hashes[3],
            gens[third][hashes[3]],
            gens[base][hashes[3]],
            "AB",
            "?",
            valid=False,
            sample=1,
        ),
        _judgment(
            "alpaca_eval", ALPACA_JUDGE, hashes[4], gens[third][hashes[4]], gens[base][hashes[4]], "AB", "t", score=1.5, sample=1
        ),
        _judgment(
            "alpaca_eval", ALPACA_JUDGE, hashes[5], gens[third][hashes[5]], gens[base][hashes[5]], "AB", "z", score=0.0, sample=1
        ),
        # grades: a second sample of one answer (averaged within the prompt first) and an invalid one
        _judgment("likert", LIKERT_JUDGE, hashes[6], gens[first][hashes[6]], None, None, "2", score=2.0, sample=1),
        _judgment("likert", LIKERT_JUDGE, hashes[7], gens[first][hashes[7]], None, None, "?", valid=False, sample=1),
        # a grade re-judged (same answer and sample, a new judge call): the latest replaces it
        replace(
            _judgment("likert", LIKERT_JUDGE, hashes[10], gens[first][hashes[10]], None, None, "1", score=1.0), cache_key="r" * 64
        ),
    ]
    # judge kinds no judge class declares: read as verdicts when they judged pairs, else as grades
    for order, verdict in (("AB", "A"), ("BA", "A")):
        later.append(
            _judgment("house_pairwise", "house", hashes[8], gens[first][hashes[8]], gens[base][hashes[8]], order, "v", verdict)
        )
    later.append(_judgment("house_grade", "house", hashes[8], gens[first][hashes[8]], None, None, "4", score=4.0))
    _add(store, later)
    # a judgment shared by a second model with an identical answer counts for that model too
    shared = _judgment("likert", LIKERT_JUDGE, hashes[9], gens[second][hashes[9]], None, None, "Score: 5", score=5.0)
    store.add_judgment_uses([(shared.cache_key, gens[third][hashes[9]], None)])


def _check_equal(quick: Summary, full: Summary) -> None:
    for name in ("pairwise", "single"):
        fast, slow = getattr(quick, name), getattr(full, name)
        assert len(fast) == len(slow) > 0
        columns = [c for c in fast.columns if c not in SKIPPED]
        pd.testing.assert_frame_equal(
            fast[columns].reset_index(drop=True), slow[columns].reset_index(drop=True), check_dtype=False, rtol=1e-9
        )
        assert fast[SKIPPED].isna().all().all()


def _check_store(store: Store) -> None:
    _corner_cases(store)
    full = summarize(read_tables(store, instructions=False), n_resamples=10)
    assert {"verdict", "preference"} <= set(full.pairwise["output"])
    assert "house_pairwise" in set(full.pairwise["judge_kind"]) and "house_grade" in set(full.single["judge_kind"])
    _check_equal(point_summary(store), full)


def test_database_tallies_equal_the_pandas_summary_on_sqlite(tmp_path: Path) -> None:
    _check_store(Store(f"sqlite:///{tmp_path / 'store.db'}"))


def test_out_of_range_preferences_leave_only_the_discrete_win_rate_to_the_full_summary(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    data = populate(store, runs=1, epochs=1, prompts=10, with_decisions=False)
    (model,) = data.checkpoints
    hashes = list(data.generation_ids[model])
    odd = _judgment(
        "alpaca_eval", ALPACA_JUDGE, hashes[0], data.generation_ids[model][hashes[0]],
        data.generation_ids[BASELINES[0]][hashes[0]], "AB", "odd", score=2.4, sample=1,
    )  # fmt: skip
    _add(store, [odd])
    quick = point_summary(store).pairwise
    full = summarize(read_tables(store, instructions=False), n_resamples=10).pairwise
    odd_row = (quick["output"] == "preference") & (quick["baseline"] == BASELINES[0])
    assert np.isnan(quick.loc[odd_row, "discrete_win_rate"]).all()
    columns = [c for c in quick.columns if c not in [*SKIPPED, "discrete_win_rate"]]
    pd.testing.assert_frame_equal(quick[columns], full[columns], check_dtype=False, rtol=1e-9)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    reason = postgres.available()
    if reason is not None:
        pytest.skip(reason)
    with postgres.postgres_server() as url:
        yield url


def test_database_tallies_equal_the_pandas_summary_on_postgres(pg_url: str) -> None:
    _check_store(Store(pg_url))


def test_bulk_populate_writes_what_the_store_methods_write(pg_url: str, tmp_path: Path) -> None:
    """bench/leaderboard_data.py's COPY path (used at 10x) gives the same tables as the Store's methods."""
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE bulk_copy"))
    admin.dispose()
    bulk = Store(pg_url.rsplit("/", 1)[0] + "/bulk_copy")
    plain = Store(f"sqlite:///{tmp_path / 'plain.db'}")
    for store, use_copy in ((bulk, True), (plain, False)):
        populate(store, runs=1, epochs=2, prompts=8, with_decisions=False, bulk=use_copy)
    copied, written = read_tables(bulk, instructions=False), read_tables(plain, instructions=False)
    for name in ("pairwise", "alpaca", "single"):
        pd.testing.assert_frame_equal(getattr(copied, name), getattr(written, name))


def test_an_incremental_refresh_equals_a_full_one(tmp_path: Path) -> None:
    """Refreshing after new judgments recomputes only their models, and gives what a full read gives;
    a cached judgment reused for another answer (a new use, no new judgment) makes it recompute all."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    data = populate(store, runs=1, epochs=3, prompts=12, with_decisions=False)
    gens, base = data.generation_ids, BASELINES[0]
    first, second, third = data.checkpoints
    hashes = list(gens[first])
    state = refresh_point_summary(store)
    _check_equal_points(state.summary, point_summary(store))
    assert refresh_point_summary(store, state).summary is state.summary  # nothing new: nothing recomputed

    _add(store, [
        _judgment("pairwise", PAIRWISE_JUDGE, hashes[0], gens[second][hashes[0]], gens[base][hashes[0]], "AB", "again", "B", sample=1),
        _judgment("pairwise", PAIRWISE_JUDGE, hashes[0], gens[second][hashes[0]], gens[base][hashes[0]], "BA", "again", "A", sample=1),
        _judgment("likert", LIKERT_JUDGE, hashes[1], gens[second][hashes[1]], None, None, "1", score=1.0, sample=1),
    ])  # fmt: skip
    models, _ = aggregates.changed_since(store, state.max_judgment_id)
    assert models == {store.model_id(second)}
    state = refresh_point_summary(store, state)
    _check_equal_points(state.summary, point_summary(store))

    reused = _judgment("likert", LIKERT_JUDGE, hashes[2], gens[first][hashes[2]], None, None, "Score: 4", score=4.0)
    store.add_judgment_uses([(reused.cache_key, gens[third][hashes[2]], None)])
    state = refresh_point_summary(store, state)
    _check_equal_points(state.summary, point_summary(store))
    _check_equal(state.summary, summarize(read_tables(store, instructions=False), n_resamples=10))


def _check_equal_points(refreshed: Summary, fresh: Summary) -> None:
    for name in ("pairwise", "single"):
        pd.testing.assert_frame_equal(getattr(refreshed, name), getattr(fresh, name), check_dtype=False)
