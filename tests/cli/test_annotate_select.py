"""`evalkit annotate create --select {random,informative} --limit K`: bad input is one line and exit 2
before anything is written; the batch stores informative draws with their weights, random ones
without; without --select the batch is the first N shared prompts, as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.leaderboard_data import populate
from evalkit.cli.main import main as cli_main
from evalkit.store import Store
from evalkit.store import annotations as ann


@pytest.fixture()
def populated(db_url: str) -> tuple[str, str, str]:
    store = Store(db_url)
    data = populate(store, runs=1, epochs=1, prompts=40, with_decisions=False)
    store.engine.dispose()
    return db_url, data.checkpoints[0], data.baselines[0]


def _create(db: str, model: str, baseline: str, *extra: str) -> int:
    return cli_main(
        ["annotate", "create", "--models", model, baseline, "--prompts", "bench", "--per-item", "1", "--db", db, *extra]
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--select", "informative"], "--select informative needs --limit K"),
        (["--select", "random", "--mode", "absolute", "--limit", "3"], "chooses the prompts of a pairwise batch"),
    ],
)
def test_bad_selection_is_one_line_before_any_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    db = tmp_path / "never.db"
    assert _create(f"sqlite:///{db}", "m", "b", *extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not db.exists()


def test_selections_make_batches(populated: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    db, model, baseline = populated
    assert _create(db, model, baseline, "--limit", "10", "--name", "first") == 0
    assert _create(db, model, baseline, "--select", "random", "--limit", "10", "--name", "random", "--seed", "3", "--json") == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["select"] == "random"
    assert _create(db, model, baseline, "--select", "informative", "--limit", "25", "--name", "inf", "--seed", "3") == 0
    assert _create(db, model, baseline, "--select", "informative", "--limit", "25", "--name", "inf-2", "--seed", "3") == 0
    store = Store(db, read_only=True)
    hashes = [p.hash for p in store.load_prompt_set("bench").prompts]
    draws = {name: ann.batch_draws(store, ann.batch_id(store, name)) for name in ("first", "random", "inf", "inf-2")}
    assert [d.prompt_hash for d in draws["first"]] == hashes[:10]  # today's behaviour
    assert [(d.probability, d.draws) for d in draws["random"]] == [(None, 1)] * 10
    assert [d.prompt_hash for d in draws["random"]] != hashes[:10]
    assert sum(d.draws for d in draws["inf"]) == 25 and all(d.probability is not None for d in draws["inf"])
    # the same seed draws the same prompts with the same weights (item ids differ between batches)
    same = [[(d.prompt_hash, d.probability, d.draws) for d in draws[name]] for name in ("inf", "inf-2")]
    assert same[0] == same[1]
    # the N the draw probabilities were made over, for the estimator
    assert ann.batch_population(store, ann.batch_id(store, "inf")).hashes == tuple(hashes)
