"""`evalkit sweep`: the grid (Yi's proportions, seeded thinning), the best cell and its paired bootstrap
against the runner-up, and the CLI contract end to end on a tiny model with the reference judge:
four cells trained and evaluated, and a re-run that trains nothing and judges nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.cli.main import main
from evalkit.core.errors import EvalkitError
from evalkit.datarecipes.cell_score import CellScore
from evalkit.datarecipes.grid import CellSpec, cell_rows, parse_proportions, plan_cells
from evalkit.datarecipes.rows import single_turn
from evalkit.datarecipes.sweep import choose_best


def test_yi_grid_and_proportion_cells() -> None:
    assert parse_proportions("yi") == (1, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625)
    assert parse_proportions("1,1/4") == (1.0, 0.25)
    with pytest.raises(EvalkitError, match="proportion must be in"):
        parse_proportions("2")
    rows = [single_turn(f"m{i}", "a", category="math") for i in range(8)] + [
        single_turn(f"w{i}", "a", category="writing") for i in range(8)
    ]
    cells = plan_cells({"src": rows}, [16], (1.0, 0.25), "category")
    assert cells == [CellSpec("src", 16), CellSpec("src", 16, "math", 0.25), CellSpec("src", 16, "writing", 0.25)]
    thinned = cell_rows(rows, cells[1], "category", seed=0)
    assert (
        sum(r.extra["category"] == "math" for r in thinned) == 2 and sum(r.extra["category"] == "writing" for r in thinned) == 8
    )
    assert cell_rows(rows, cells[1], "category", seed=0) == thinned
    with pytest.raises(EvalkitError, match="source src has 16 dialogs"):
        plan_cells({"src": rows}, [17], (), "category")


def _score(values: dict[str, float], win_rate: float) -> CellScore:
    return CellScore(1, "reference", len(values), win_rate, 0.0, 100.0, pd.Series(values))


def test_best_cell_and_its_paired_bootstrap_against_the_runner_up() -> None:
    rng = np.random.default_rng(0)
    prompts = [f"p{i}" for i in range(40)]
    strong = dict(zip(prompts, rng.choice([1.0, 1.0, 1.0, 0.5, 0.0], size=40)))
    weak = dict(zip(prompts[:35], rng.choice([1.0, 0.5, 0.0, 0.0, 0.0], size=35)))  # five prompts missing
    middle = dict(zip(prompts, rng.choice([1.0, 0.5, 0.0], size=40)))
    scores = [_score(weak, 30.0), _score(strong, 75.0), _score(middle, 50.0)]
    cells = [{"name": name, "n_examples": 16, "win_rate": s.win_rate, "trained": True} for name, s in zip("abc", scores)]
    best = choose_best(cells, scores, n_resamples=2000)
    assert best["name"] == "b" and "trained" not in best
    versus = best["vs_runner_up"]
    assert versus["runner_up"] == "c" and versus["n"] == 40
    differences = (pd.Series(strong) - pd.Series(middle)) * 100
    assert versus["difference"] == pytest.approx(differences.mean())
    assert versus["ci_low"] < versus["difference"] < versus["ci_high"]
    assert versus["significant"] == (versus["ci_low"] > 0)
    # A tie on win rate goes to the smaller data set.
    tied = [{"name": "big", "n_examples": 32, "win_rate": 50.0}, {"name": "small", "n_examples": 16, "win_rate": 50.0}]
    assert choose_best(tied, [_score(middle, 50.0)] * 2, n_resamples=200)["name"] == "small"


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


@pytest.mark.slow
def test_sweep_contract_four_cells_then_a_rerun_that_does_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.models.tiny import build_tiny_model
    from evalkit.train import demo_dialogs_path

    lines = demo_dialogs_path().read_text().splitlines()
    (tmp_path / "A.jsonl").write_text("\n".join(lines[:12]) + "\n")
    (tmp_path / "B.jsonl").write_text("\n".join(lines[100:112]) + "\n")
    prompts = [json.loads(line) for line in Path("prompts/sets/dev.jsonl").read_text().splitlines()[:3]]
    (tmp_path / "few.jsonl").write_text("\n".join(json.dumps(p) for p in prompts) + "\n")
    corpus = [m["content"] for line in lines[:120] for m in json.loads(line)["messages"]]
    base = build_tiny_model(tmp_path / "base", corpus, vocab_size=300, hidden_size=32, layers=1)
    db = tmp_path / "X.db"
    args = [
        "sweep",
        "--data",
        str(tmp_path / "A.jsonl"),
        str(tmp_path / "B.jsonl"),
        "--sizes",
        "4,8",
        "--model",
        str(base),
        "--recipe",
        "demo",
        "--epochs",
        "2",
        "--prompts",
        str(tmp_path / "few.jsonl"),
        "--out",
        str(tmp_path / "RUNS"),
        "--db",
        f"sqlite:///{db}",
        "--json",
        "--max-new-tokens",
        "8",
        "--no-progress",
    ]
    capsys.readouterr()
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)  # stdout is exactly one JSON object
    cells = result["cells"]
    assert [(c["source"], c["size"]) for c in cells] == [("A", 4), ("A", 8), ("B", 4), ("B", 8)]
    assert all(c["trained"] and Path(c["checkpoint"]).name == "epoch-2" and 0 <= c["win_rate"] <= 100 for c in cells)
    assert all(c["ci_low"] <= c["win_rate"] <= c["ci_high"] and c["n"] == 3 for c in cells)
    assert result["best"]["name"] in {c["name"] for c in cells} and result["best"]["vs_runner_up"]["n"] == 3
    from evalkit.results.tables import pairwise_table
    from evalkit.store import Store

    table = pairwise_table(Store(f"sqlite:///{db}"), "reference")  # independently: ties count half
    for cell in cells:
        outcomes = table[table["model_id"] == cell["model_id"]]["outcome"].map({"win": 1.0, "tie": 0.5, "loss": 0.0})
        assert len(outcomes) == 3 and cell["win_rate"] == pytest.approx(100 * outcomes.mean())
    judgments, generations = _count(db, "judgments"), _count(db, "generations")
    assert _count(db, "sweep_cells") == 4 and _count(db, "sweeps") == 1

    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert not any(c["trained"] for c in again["cells"])
    assert (_count(db, "judgments"), _count(db, "generations")) == (judgments, generations)
    assert [c["win_rate"] for c in again["cells"]] == [c["win_rate"] for c in cells] and again["best"] == result["best"]
    with sqlite3.connect(db) as conn:
        stored_best = json.loads(conn.execute("select best from sweeps").fetchone()[0])
    assert stored_best["name"] == result["best"]["name"]
