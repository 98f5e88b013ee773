"""A store with the reading rules' corner cases, for the tests that compare the database's tallies
(evalkit.store.aggregates, evalkit.results.tally_summary) and the figures read from rows with the pandas
summary: re-judged pairs and grades (the latest counts), pairs judged in one order only, invalid
judgments, preferences that are exactly a tie or a zero read as a tie, several grade samples per answer,
a judgment shared by two identical answers, judge kinds no judge class declares."""

from __future__ import annotations

from dataclasses import replace

from bench.leaderboard_data import ALPACA_JUDGE, BASELINES, LIKERT_JUDGE, PAIRWISE_JUDGE, _judgment, populate
from evalkit.core.records import Judgment
from evalkit.store import Store


def add_judgments(store: Store, judgments: list[Judgment]) -> None:
    """Store judgments, each with the use its own generations name (the answer, or the pair)."""
    uses = []
    for judgment in judgments:
        assert judgment.generation_a is not None
        uses.append((judgment.cache_key, judgment.generation_a, judgment.generation_b))
    store.add_judgments_with_uses(judgments, uses)


def add_corner_cases(store: Store) -> None:
    """A store of 3 checkpoints x 25 prompts against two baselines, judged by a verdict, a preference and a
    grade judge, plus the cases below."""
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
    add_judgments(store, later)
    # a judgment shared by a second model with an identical answer counts for that model too
    shared = _judgment("likert", LIKERT_JUDGE, hashes[9], gens[second][hashes[9]], None, None, "Score: 5", score=5.0)
    store.add_judgment_uses([(shared.cache_key, gens[third][hashes[9]], None)])
