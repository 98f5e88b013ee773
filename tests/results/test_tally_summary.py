"""The summary of a prompt scope from the database's per-prompt tallies (evalkit.results.tally_summary)
equals the pandas summary (`summarize` over `read_tables`) — rows, order, dtypes, point figures, invalid
reasons and the bootstrap intervals — on SQLite and PostgreSQL, for every prompt, an 11-prompt
prompt set and a single prompt. The store holds the reading rules' corner cases: re-judged pairs and
grades, pairs judged in one order only, invalid judgments with and without stored reasons (which order's
reason a pair takes), out-of-range preferences, several grade samples and answers per prompt, another
decoding, shared judgments, undeclared judge kinds. Also: an incremental `replaced` equals a fresh
read, and the combined win rate from tallies equals the one from rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from bench.leaderboard_data import ALPACA_JUDGE, BASELINES, LIKERT_JUDGE, PAIRWISE_JUDGE, _judgment
from evalkit.core.records import DecodingParams, GenerationResult, Judgment, PromptSet
from evalkit.core.vocabulary import EMPTY_REPLY, INVALID_REASON_KEY, PROMPT_TOO_LONG, REPLY_CUT_OFF, UNPARSEABLE_REPLY
from evalkit.results.combined import KEYS, combined_win_rates, draw_designs, judge_preferences
from evalkit.results.summary import Scope, Summary, select, summarize
from evalkit.results.tables import read_tables
from evalkit.results.tally_summary import PromptTallies, judge_preferences_of, summarize_tallies
from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store.catalog_reads import prompt_set_members
from tests.results.corner_cases import add_corner_cases, add_judgments
from tests.results.test_combined import informative_store, labelled_store

RESAMPLES = 200
SUBSET = "eleven"  # a second stored prompt set, of 11 prompts
SINGLE = "one"  # a third, of one prompt with invalid judgments of every kind


def _reasoned(judgment: Judgment, reason: str) -> Judgment:
    return replace(judgment, extra={INVALID_REASON_KEY: reason})


def _answer(store: Store, model: str, prompt_hash: str, sample: int, decoding: DecodingParams | None) -> int:
    """A further answer of `model` to a prompt (another sample, or another decoding), its id."""
    model_id = store.model_id(model)
    store.add_generations(model_id, decoding, "test", [GenerationResult(prompt_hash, sample, f"extra answer {sample} " * 30)])
    generations = store.generations(model_id)
    return int(generations[(generations["prompt_hash"] == prompt_hash) & (generations["sample"] == sample)]["id"].max())


def _more_corner_cases(store: Store) -> list[str]:
    """`add_corner_cases` plus invalid judgments with reasons, out-of-range preferences, more answers per
    prompt and a shared pair; two more prompt sets. Returns the prompt hashes."""
    add_corner_cases(store)
    bench = store.load_prompt_set("bench")
    hashes = [prompt.hash for prompt in bench.prompts]
    names = store.models().set_index("name")["id"]
    first, second, third = (f"run-0/epoch-{epoch}" for epoch in (1, 2, 3))
    base = BASELINES[0]
    gens = {
        name: dict(zip(g["prompt_hash"], g["id"])) for name, g in ((n, store.generations(int(names[n]))) for n in names.index)
    }
    gens = {name: {h: int(i) for h, i in by_prompt.items()} for name, by_prompt in gens.items()}

    def pair(model: str, h: str, order: str, raw: str, verdict: str | None = None, valid: bool = True) -> Judgment:
        return _judgment("pairwise", PAIRWISE_JUDGE, h, gens[model][h], gens[base][h], order, raw, verdict, valid=valid, sample=3)

    def preference(model: str, h: str, score: float | None, valid: bool = True) -> Judgment:
        return _judgment(
            "alpaca_eval", ALPACA_JUDGE, h, gens[model][h], gens[base][h], "AB", f"p{score}", score=score, valid=valid, sample=3
        )

    def grade(model: str, h: str, score: float | None, sample: int, valid: bool = True) -> Judgment:
        return _judgment(
            "likert", LIKERT_JUDGE, h, gens[model][h], None, None, f"g{score}", score=score, valid=valid, sample=sample
        )

    later = [
        # both orders invalid, with different reasons: the pair takes AB's
        _reasoned(pair(third, hashes[11], "AB", "a", valid=False), PROMPT_TOO_LONG),
        _reasoned(pair(third, hashes[11], "BA", "b", valid=False), REPLY_CUT_OFF),
        # AB valid, BA invalid: BA's reason
        pair(third, hashes[12], "AB", "a", "A"),
        _reasoned(pair(third, hashes[12], "BA", "b", valid=False), EMPTY_REPLY),
        # a valid judgment without a verdict makes the pair invalid: an unreadable reply
        pair(third, hashes[13], "AB", "a", None),
        pair(third, hashes[13], "BA", "b", "B"),
        # an empty stored reason counts as unspecified
        _reasoned(pair(second, hashes[13], "AB", "a", valid=False), ""),
        pair(second, hashes[13], "BA", "b", "A"),
        # invalid first, then judged again validly: not invalid any more
        _reasoned(pair(second, hashes[14], "AB", "a", valid=False), PROMPT_TOO_LONG),
        pair(second, hashes[14], "BA", "b", "tie"),
        # preferences: invalid with a reason, valid without a score, and outside [1, 2] (AlpacaEval's
        # discrete view rounds 2.4 to a win, 0.7 to a loss, 0.3 and 0.5 to 0, a tie; drops 2.6 and -1)
        _reasoned(preference(first, hashes[11], None, valid=False), PROMPT_TOO_LONG),
        preference(first, hashes[12], None),
        *(preference(second, hashes[i], s) for i, s in zip(range(13, 19), (2.4, 2.6, 0.3, 0.7, -1.0, 0.5))),
        # grades: invalid with a reason, valid without a score, a third sample
        _reasoned(grade(second, hashes[11], None, 4, valid=False), EMPTY_REPLY),
        grade(second, hashes[12], None, 4),
        grade(first, hashes[6], 6.0, 2),
    ]
    # prompts with no valid judgment in a table: resampled for comparisons (the pandas code numbers every
    # prompt of the table), not for grades (only prompts with a valid mean)
    for model in (first, second, third):
        later.append(replace(grade(model, hashes[17], None, 0, valid=False), cache_key=f"regraded {model}"))
        later.append(_reasoned(preference(model, hashes[19], None, valid=False), REPLY_CUT_OFF))
        for baseline in BASELINES:
            again = _judgment(
                "pairwise",
                PAIRWISE_JUDGE,
                hashes[18],
                gens[model][hashes[18]],
                gens[baseline][hashes[18]],
                "AB",
                "?",
                valid=False,
                sample=3,
            )
            later.append(again)
    add_judgments(store, [*later, *_later_pairs(store, gens[base], hashes)])
    # the pair judgments of `third` on prompt 15 also answer for `first`'s identical answer
    shared = [pair(third, hashes[15], order, order.lower(), verdict) for order, verdict in (("AB", "B"), ("BA", "B"))]
    add_judgments(store, shared)
    store.add_judgment_uses([(j.cache_key, gens[first][hashes[15]], gens[base][hashes[15]]) for j in shared])
    prompts = {p.hash: p for p in bench.prompts}
    store.save_prompt_set(PromptSet(SUBSET, tuple(prompts[h] for h in hashes[5:16]), "test"))
    store.save_prompt_set(PromptSet(SINGLE, (prompts[hashes[11]],), "test"))
    return hashes


def _later_pairs(store: Store, base: dict[str, int], hashes: list[str]) -> list[Judgment]:
    """A second answer (sample 1) of the first checkpoint and one under another decoding, both judged:
    several pairs and grades in one (generation set, prompt) cell, and a generation set of its own."""
    judgments = []
    for sample, decoding in ((1, DecodingParams()), (0, None)):
        answer = _answer(store, "run-0/epoch-1", hashes[16], sample, decoding)
        for order, verdict in (("AB", "A"), ("BA", "tie")):
            judgments.append(
                _judgment("pairwise", PAIRWISE_JUDGE, hashes[16], answer, base[hashes[16]], order, "x", verdict, sample=sample)
            )
        judgments.append(_judgment("likert", LIKERT_JUDGE, hashes[16], answer, None, None, "5", score=5.0))
        judgments.append(
            _judgment("alpaca_eval", ALPACA_JUDGE, hashes[16], answer, base[hashes[16]], "BA", "w", score=1.25 + sample / 2)
        )
    return judgments


def _scopes(store: Store) -> dict[str, frozenset[str] | None]:
    members = prompt_set_members(store)
    scopes: dict[str, frozenset[str] | None] = {"all": None}
    for name in (SUBSET, SINGLE):
        scopes[name] = frozenset(members.loc[members["set_name"] == name, "prompt_hash"])
    assert len(scopes[SUBSET] or ()) == 11 and len(scopes[SINGLE] or ()) == 1
    return scopes


def _check_equal(fast: Summary, full: Summary) -> None:
    for name in ("pairwise", "single"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(full, name), rtol=1e-9)


def _check_store(store: Store) -> None:
    _more_corner_cases(store)
    tables = read_tables(store, instructions=False)
    tallies = PromptTallies.read(store)
    for scope, prompts in _scopes(store).items():
        full = summarize(tables, Scope(prompt_hashes=prompts), n_resamples=RESAMPLES)
        fast = summarize_tallies(tallies, prompts, n_resamples=RESAMPLES)
        _check_equal(fast, full)
        assert fast.pairwise["ci_low"].notna().any() and fast.single["ci_low"].notna().any(), scope
    # the cases are there: reasons of each kind, the rounded out-of-range preferences
    everything = summarize_tallies(tallies, n_resamples=RESAMPLES)

    def reasons_of(rows: pd.DataFrame) -> set[str]:
        return {reason for found in rows["invalid_reasons"] for reason in found}

    verdicts = everything.pairwise[everything.pairwise["output"] == "verdict"]
    assert {PROMPT_TOO_LONG, EMPTY_REPLY, UNPARSEABLE_REPLY, "unspecified"} <= reasons_of(verdicts)
    assert REPLY_CUT_OFF not in reasons_of(verdicts)  # the pair invalid in both orders took AB's reason
    assert {PROMPT_TOO_LONG, REPLY_CUT_OFF} <= reasons_of(everything.pairwise[everything.pairwise["output"] == "preference"])
    assert {EMPTY_REPLY, UNPARSEABLE_REPLY} <= {reason for found in everything.single["invalid_reasons"] for reason in found}
    rounded = everything.pairwise[
        (everything.pairwise["output"] == "preference") & (everything.pairwise["model"] == "run-0/epoch-2")
    ]
    assert len(rounded) == 1 and not np.isnan(rounded["discrete_win_rate"].iloc[0])
    one = summarize_tallies(tallies, _scopes(store)[SINGLE], n_resamples=RESAMPLES)
    assert set(one.pairwise["output"]) == {"verdict", "preference"} and one.pairwise["n_invalid"].sum() >= 2
    assert one.single["n_invalid"].sum() >= 1


def test_tallies_summarize_every_scope_as_the_pandas_summary_on_sqlite(tmp_path: Path) -> None:
    _check_store(Store(f"sqlite:///{tmp_path / 'store.db'}"))


def test_tallies_summarize_every_scope_as_the_pandas_summary_on_postgres(pg_url: str) -> None:
    _check_store(Store(pg_url))


def test_a_scope_without_judgments_gives_the_empty_summary(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    add_corner_cases(store)
    nothing = frozenset({"no-such-prompt"})
    full = summarize(read_tables(store, instructions=False), Scope(prompt_hashes=nothing), n_resamples=RESAMPLES)
    _check_equal(summarize_tallies(PromptTallies.read(store), nothing, n_resamples=RESAMPLES), full)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by every key (strings and ids), categories as strings: frames read in another order compare."""
    plain = pd.DataFrame(
        {c: frame[c].astype(str) if isinstance(frame[c].dtype, pd.CategoricalDtype) else frame[c] for c in frame}
    )
    keys = [c for c in plain.columns if not pd.api.types.is_float_dtype(plain[c]) and not c.startswith("n_")]
    return plain.sort_values(keys).reset_index(drop=True)


def test_replacing_the_models_judged_since_equals_a_fresh_read(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    hashes = _more_corner_cases(store)
    before = PromptTallies.read(store)
    gens = store.generations(store.model_id("run-0/epoch-2")).set_index("prompt_hash")["id"]
    base = store.generations(store.model_id(BASELINES[1])).set_index("prompt_hash")["id"]
    judged = [
        _judgment("pairwise", PAIRWISE_JUDGE, hashes[20], int(gens[hashes[20]]), int(base[hashes[20]]), "AB", "n", "B", sample=5),
        _judgment("pairwise", PAIRWISE_JUDGE, hashes[20], int(gens[hashes[20]]), int(base[hashes[20]]), "BA", "n", "B", sample=5),
        _reasoned(
            _judgment("likert", LIKERT_JUDGE, hashes[21], int(gens[hashes[21]]), None, None, "?", valid=False, sample=5),
            EMPTY_REPLY,
        ),
    ]
    add_judgments(store, judged)
    model = store.model_id("run-0/epoch-2")
    refreshed = before.replaced(PromptTallies.read(store, [model]), [model])
    fresh = PromptTallies.read(store)
    for name in ("verdict", "preference", "grade", "verdict_reasons", "preference_reasons", "grade_reasons", "out_of_range"):
        pd.testing.assert_frame_equal(_sorted(getattr(refreshed, name)), _sorted(getattr(fresh, name)), check_dtype=False)
    for prompts in _scopes(store).values():
        _check_equal(
            summarize_tallies(refreshed, prompts, n_resamples=RESAMPLES), summarize_tallies(fresh, prompts, n_resamples=RESAMPLES)
        )
    assert len(fresh.grade_reasons) == len(before.grade_reasons) + 1  # the new judgments changed something


def _check_judge_preferences(store: Store) -> None:
    tables, tallies = read_tables(store, instructions=False), PromptTallies.read(store)
    labels = ann.labels(store)
    designs = draw_designs(store, sorted({int(b) for b in labels["batch_id"]}))
    for prompts in _scopes(store).values():
        comparisons = select(tables, Scope(prompt_hashes=prompts)).comparisons
        judged = judge_preferences_of(tallies, prompts)
        pd.testing.assert_frame_equal(_sorted(judged), _sorted(judge_preferences(comparisons)), check_dtype=False, rtol=1e-12)
        rows = combined_win_rates(comparisons, labels, designs=designs)
        quick = combined_win_rates(None, labels, designs=designs, judged=judged)
        assert len(rows) > 0 or prompts is not None
        pd.testing.assert_frame_equal(
            quick.sort_values(KEYS).reset_index(drop=True), rows.sort_values(KEYS).reset_index(drop=True), rtol=1e-9
        )


def _with_prompt_sets(store: Store) -> None:
    bench = store.load_prompt_set("bench")
    store.save_prompt_set(PromptSet(SUBSET, bench.prompts[3:14], "test"))
    store.save_prompt_set(PromptSet(SINGLE, bench.prompts[5:6], "test"))


def test_combined_win_rates_from_tallies_equal_those_from_rows(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'plain.db'}")
    labelled_store(store)
    _with_prompt_sets(store)
    _check_judge_preferences(store)


def test_combined_win_rates_of_an_informative_batch_from_tallies_equal_those_from_rows(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'drawn.db'}")
    informative_store(store)
    _with_prompt_sets(store)
    _check_judge_preferences(store)
