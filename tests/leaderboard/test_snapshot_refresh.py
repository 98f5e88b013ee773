"""The snapshot's tallies kept on disk and refreshed incrementally: after a checkpoint is judged, the
next build reads only that checkpoint's tallies from the database and gives the summaries a build from
scratch gives; anything the refresh cannot account for makes it read everything again."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.leaderboard_data import PAIRWISE_JUDGE, _judgment, populate
from evalkit.core.records import Judgment
from evalkit.leaderboard import snapshot as snap
from evalkit.leaderboard.snapshot_build import build_snapshot, build_snapshot_at, snapshot_of
from evalkit.leaderboard.store_access import results_token
from evalkit.leaderboard.tally_files import load_tallies, save_tallies
from evalkit.results import tally_summary
from evalkit.results.tally_refresh import refresh_tallies
from evalkit.store import Store


def _judge_again(store: Store, model: str, base: str, generation_ids: dict[str, dict[str, int]]) -> None:
    """A new pairwise verdict in both orders on one prompt of `model` against `base`."""
    prompt = next(iter(generation_ids[model]))
    a, b = generation_ids[model][prompt], generation_ids[base][prompt]
    judgments = [
        _judgment("pairwise", PAIRWISE_JUDGE, prompt, a, b, order, "late", verdict, sample=7)
        for order, verdict in (("AB", "A"), ("BA", "B"))
    ]
    store.add_judgments_with_uses(judgments, [(j.cache_key, a, b) for j in judgments])


def _same_summaries(got: snap.Snapshot, expected: snap.Snapshot) -> None:
    for name in ("pairwise_summary", "likert_summary", "pairs", "prompts"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), rtol=1e-12)


@pytest.fixture
def store(tmp_path: Path) -> tuple[Store, object]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    return store, populate(store, runs=1, epochs=3, prompts=12, with_decisions=False)


def test_a_rebuild_reads_only_the_model_judged_since(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, data = store
    tallies_at = tmp_path / "snapshot.tallies"
    first = build_snapshot_at(db.url, results_token(db), tallies_at)
    _same_summaries(first, build_snapshot(db, results_token(db)))
    assert load_tallies(tallies_at) is not None

    _judge_again(db, data.checkpoints[1], data.baselines[0], data.generation_ids)
    reads: list[object] = []
    original = tally_summary.PromptTallies.read.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(
        tally_summary.PromptTallies,
        "read",
        classmethod(lambda cls, store, model_ids=None: reads.append(model_ids) or original(cls, store, model_ids)),
    )
    again = build_snapshot_at(db.url, results_token(db), tallies_at)
    assert reads == [[db.model_id(data.checkpoints[1])]]  # only the model judged since
    monkeypatch.undo()
    fresh = build_snapshot(db, results_token(db))
    _same_summaries(again, fresh)
    assert not again.pairwise_summary.equals(first.pairwise_summary)  # the new verdicts count


def test_uses_the_new_judgments_do_not_explain_make_it_read_everything(store) -> None:
    db, data = store
    state = refresh_tallies(db).state
    model = data.generation_ids[data.checkpoints[0]]
    other = data.generation_ids[data.checkpoints[2]]
    prompt = next(iter(model))
    # an existing judgment reused for another model's identical answer: no new judgment, one more use
    shared = Judgment("s" * 64, "likert", "x" * 64, "g", prompt, model[prompt], None, None, 0, "5", score=5.0)
    db.add_judgments_with_uses([shared], [(shared.cache_key, model[prompt], None)])
    state = refresh_tallies(db, state).state
    db.add_judgment_uses([(shared.cache_key, other[prompt], None)])
    refreshed = refresh_tallies(db, state)
    assert refreshed.reread is None  # everything read again
    _same_summaries(
        snap_of(db, refreshed.state.tallies),
        build_snapshot(db, "t"),
    )


def snap_of(db: Store, tallies: tally_summary.PromptTallies) -> snap.Snapshot:
    return snapshot_of(db, "t", tallies, 0.0)


def test_nothing_new_reads_nothing(store) -> None:
    db, _ = store
    state = refresh_tallies(db).state
    again = refresh_tallies(db, state)
    assert again.reread == frozenset() and again.state.tallies is state.tallies


def test_saved_tallies_give_the_same_summaries(store, tmp_path: Path) -> None:
    db, _ = store
    state = refresh_tallies(db).state
    save_tallies(state, tmp_path / "t")
    loaded = load_tallies(tmp_path / "t")
    assert loaded is not None and (loaded.max_judgment_id, loaded.n_uses) == (state.max_judgment_id, state.n_uses)
    _same_summaries(snap_of(db, loaded.tallies), snap_of(db, state.tallies))


def test_unreadable_tallies_are_read_again(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "meta.json").write_text("{not json")
    assert load_tallies(tmp_path / "t") is None
    assert load_tallies(tmp_path / "missing") is None


def test_a_judge_kind_that_changes_verdict_type_makes_it_read_everything(store) -> None:
    """An undeclared kind is read as grades until it judges its first pair, then as verdicts: every
    model's rows of that kind move tables, so refreshing only the newly judged model would be wrong."""
    db, data = store
    first, second = data.checkpoints[0], data.checkpoints[1]
    prompt = next(iter(data.generation_ids[first]))
    graded = _judgment("house", "house-judge", prompt, data.generation_ids[first][prompt], None, None, "4", score=4.0)
    db.add_judgments_with_uses([graded], [(graded.cache_key, graded.generation_a, None)])
    state = refresh_tallies(db).state
    assert "house" in state.tallies.kinds["score"]
    a, b = data.generation_ids[second][prompt], data.generation_ids[data.baselines[0]][prompt]
    pairs = [_judgment("house", "house-judge", prompt, a, b, order, "v", "A") for order in ("AB", "BA")]
    db.add_judgments_with_uses(pairs, [(j.cache_key, a, b) for j in pairs])
    refreshed = refresh_tallies(db, state)
    assert refreshed.reread is None and "house" in refreshed.state.tallies.kinds["verdict"]
    _same_summaries(snap_of(db, refreshed.state.tallies), build_snapshot(db, "t"))


def test_a_store_written_again_with_the_same_ids_is_read_again(tmp_path: Path) -> None:
    """A store deleted and written again reuses its judgment ids: the same highest id and number of uses
    must not pass for "nothing new" when the judgments behind them are others."""
    path = tmp_path / "again.db"
    first = Store(f"sqlite:///{path}")
    populate(first, runs=1, epochs=2, prompts=8, with_decisions=False, seed=0)
    state = refresh_tallies(first).state
    first.close()
    path.unlink()
    second = Store(f"sqlite:///{path}")
    populate(second, runs=1, epochs=2, prompts=8, with_decisions=False, seed=1)
    again = refresh_tallies(second, state)
    assert (again.state.max_judgment_id, again.state.n_uses) == (state.max_judgment_id, state.n_uses)
    assert again.reread is None  # everything read again
    _same_summaries(snap_of(second, again.state.tallies), build_snapshot(second, "t"))
