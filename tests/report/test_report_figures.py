"""The demo's report shows the command line's figures: the leaderboard rows are `evalkit stats summary
--json`'s, the checkpoints' win rates and grades are `evalkit run`'s (the demo's trend), the decision is
`evalkit pick --json`'s record (picked.json) and each shown number is the text the command line prints
(win rates with one decimal, grades with two). The report is small and the store left as it was."""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.commands.pick import decision_lines
from evalkit.core.rounding import format_figure
from tests.helpers import run_cli
from tests.report.conftest import DemoReport

pytestmark = pytest.mark.slow
MAX_BYTES = 20_000_000


def _data(report: DemoReport) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((report.out / "data.json").read_text())
    return data


def _contents(db: Path) -> list[str]:
    """Every row of the store as SQL text (its bytes may change when a reader folds the WAL in)."""
    with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
        return list(conn.iterdump())


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    return bool(a == b)


def test_leaderboard_rows_are_stats_summary_rows_shown_as_the_cli_shows_them(demo_report: DemoReport) -> None:
    result = run_cli("stats", "summary", "--db", demo_report.decision["db_url"], "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    data = _data(demo_report)
    reported = [row for table in data["leaderboard"]["comparisons"] for row in table["rows"]]
    assert len(reported) == len(summary["pairwise"]) > 0
    key = ("judge_spec_hash", "model_id", "decoding", "baseline_id", "baseline_decoding")
    by_key = {tuple(row[k] for k in key): row for row in reported}
    for expected in summary["pairwise"]:
        row = by_key[tuple(expected[k] for k in key)]
        assert {"win_rate", "standard_error", "ci_low", "ci_high", "n", "n_wins"} <= set(row) & set(expected)
        for field in set(row) & set(expected):
            assert _same(row[field], expected[field]), (field, row[field], expected[field])
        for field in ("win_rate", "standard_error", "ci_low", "ci_high", "win_pct", "tie_pct", "loss_pct"):
            assert row["shown"][field] == format_figure(expected[field], 1)
    grades = [row for table in data["leaderboard"]["grades"] for row in table["rows"]]
    assert len(grades) == len(summary["likert"]) > 0
    for expected in summary["likert"]:
        (row,) = [
            r for r in grades if (r["judge_spec_hash"], r["model_id"]) == (expected["judge_spec_hash"], expected["model_id"])
        ]
        assert _same(row["mean"], expected["mean"]) and row["shown"]["mean"] == format_figure(expected["mean"], 2)
        assert row["shown"]["ci_low"] == format_figure(expected["ci_low"], 2)


def test_checkpoint_figures_are_the_runs_and_the_decision_is_the_picks(demo_report: DemoReport) -> None:
    data = _data(demo_report)
    (view,) = data["checkpoints"]
    assert view["run"] == str(demo_report.run_dir.resolve()) and view["window"] == [2, 3]
    win = next(s for s in view["series"] if s["percent"])
    grade = next(s for s in view["series"] if not s["percent"])
    trend = {row["checkpoint"]: row for row in demo_report.decision["trend"]}  # `evalkit run`'s rows
    for point in win["points"]:
        expected = trend[point["model"]]["win_rate"]
        assert _same(point["value"], expected) and point["shown"] == format_figure(expected, 1)
    for point in grade["points"]:
        expected = trend[point["model"]]["likert"]
        assert _same(point["value"], expected) and point["shown"] == format_figure(expected, 2)
    assert {p["epoch"] for p in win["points"]} == {1, 2, 3}
    decision = view["decision"]
    picked = json.loads((demo_report.run_dir / "picked.json").read_text())  # what `pick --json` prints
    assert decision["record"] == picked and view["picked_epoch"] == picked["epoch"]
    assert decision["reason"] == picked["reason"]
    lines = decision_lines(picked)  # `evalkit pick` as printed: the same digits
    for row in decision["shown"]["rows"]:
        (line,) = [line for line in lines if line.strip().startswith(f"{row['name']} ")]
        assert f"win rate {row['win_rate']:>5}" in line and f"likert {row['likert_mean']:>5}" in line
    assert decision["shown"]["power"] in lines


def test_every_prompt_has_its_question_both_answers_and_verdicts(demo_report: DemoReport) -> None:
    data = _data(demo_report)
    assert len(data["prompts"]) == 50
    for prompt in data["prompts"]:
        assert prompt["instruction"] and prompt["comparisons"]
        for comparison in prompt["comparisons"]:
            assert str(comparison["answer"]) in data["answers"] and str(comparison["baseline_answer"]) in data["answers"]
            assert comparison["verdicts"] and all(
                v["outcome"] in ("win", "tie", "loss", "invalid") for v in comparison["verdicts"]
            )
    # the verdicts are the store's: each model's wins over the prompts are its summary row's count
    for table in data["leaderboard"]["comparisons"]:
        for row in table["rows"]:
            outcomes = [
                v["outcome"]
                for p in data["prompts"]
                for c in p["comparisons"]
                if c["model"] == row["model"]
                for v in c["verdicts"]
                if v["judge"] == table["judge"]
            ]
            assert outcomes.count("win") == row["n_wins"]


def test_the_demo_report_is_small_and_the_store_is_only_read(demo_report: DemoReport, tmp_path: Path) -> None:
    size = sum(path.stat().st_size for path in demo_report.out.iterdir())
    assert size < MAX_BYTES
    assert "index.html" in demo_report.stdout
    db = Path(demo_report.decision["db_url"].removeprefix("sqlite:///"))
    before = _contents(db)
    result = run_cli("report", "--db", demo_report.decision["db_url"], "--out", str(tmp_path / "again"), "--run", "ckpt")
    assert result.returncode == 0, result.stderr
    assert _contents(db) == before
    again = json.loads((tmp_path / "again" / "data.json").read_text())
    assert again["generated"]["run"] == str(demo_report.run_dir.resolve())


def test_human_labels_agreement_and_saved_judge_quality_reports_are_shown(demo_report: DemoReport, tmp_path: Path) -> None:
    """On a copy of the demo's store with a labelled batch and a saved judge-quality report: each label
    sits beside the judge's verdicts on the same two answers, and the agreement figures are `evalkit
    agreement --json`'s, printed with its three decimals."""
    from evalkit.store import Store
    from evalkit.store.judge_quality_reports import add_report

    source = Path(demo_report.decision["db_url"].removeprefix("sqlite:///"))
    db = tmp_path / "labelled.db"
    with closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as src, closing(sqlite3.connect(db)) as dst:
        src.backup(dst)
    url = f"sqlite:///{db}"
    made = run_cli(
        "annotate",
        "create",
        "--models",
        "ckpt/epoch-2",
        "ckpt/base",
        "--prompts",
        "dev",
        "--per-item",
        "1",
        "--limit",
        "3",
        "--name",
        "b1",
        "--db",
        url,
    )
    assert made.returncode == 0, made.stderr
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "".join(
            json.dumps({"item": f"b1#{i}", "rater": "ann", "label": label}) + "\n" for i, label in enumerate(["A", "tie", "B"])
        )
    )
    imported = run_cli("annotate", "import", str(labels), "--batch", "b1", "--format", "labels", "--db", url)
    assert imported.returncode == 0, imported.stderr
    add_report(
        Store(url),
        "checked",
        {"items": 3, "humans": {"name": "humans", "agreement": 0.75}, "judges": [{"name": "j", "agreement": 2 / 3}]},
    )
    out = tmp_path / "report"
    assert run_cli("report", "--db", url, "--out", str(out)).returncode == 0
    data = json.loads((out / "data.json").read_text())
    humans = [(c["model"], h) for p in data["prompts"] for c in p["comparisons"] for h in c["humans"]]
    assert sorted(h["label"] for _, h in humans) == ["A", "B", "tie"] and {m for m, _ in humans} == {"ckpt/epoch-2"}
    assert all(h["annotator"] == "ann" and h["outcome"] in ("win", "tie", "loss") for _, h in humans)
    agreement = json.loads(run_cli("agreement", "--db", url, "--json").stdout)
    (pairs,) = [t for t in data["agreement"] if t["title"].startswith("pairs of raters")]
    assert pairs["raw"] == agreement["pairs"]
    for shown, raw in zip(pairs["rows"], agreement["pairs"]):
        assert shown["agreement"] == format_figure(raw["agreement"], 3)
    (quality,) = data["judge_quality"]
    assert quality["title"].startswith("checked") and [row["agreement"] for row in quality["rows"]] == ["0.750", "0.667"]
