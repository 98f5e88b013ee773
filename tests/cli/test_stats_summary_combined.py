"""`evalkit stats summary` shows the combined (human + judge) win rate beside the judge-only one where
human labels exist: the results layer's figure, in --json and as text; nothing extra without labels."""

from __future__ import annotations

import json

import pytest

from evalkit.cli.main import main
from evalkit.core.rounding import format_figure
from evalkit.results.combined import COMBINED_COLUMNS, store_combined
from evalkit.store import Store
from tests.results.test_combined import labelled_store


def _summary(capsys: pytest.CaptureFixture[str], db: str, *flags: str) -> str:
    capsys.readouterr()
    assert main(["stats", "summary", "--db", db, "--resamples", "20", "--no-length-controlled", *flags]) == 0
    return capsys.readouterr().out


def test_summary_json_and_text_carry_the_combined_figure(store: Store, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    model, baseline = labelled_store(store)
    rows = json.loads(_summary(capsys, db_url, "--json"))["pairwise"]
    expected = store_combined(store).set_index(["judge_kind", "model_id", "baseline_id"])
    labelled = [row for row in rows if row["combined"] is not None]
    assert {(row["model"], row["baseline"]) for row in labelled} == {(model, baseline)} and len(labelled) == 2
    for row in labelled:
        reference = expected.loc[(row["judge_kind"], row["model_id"], row["baseline_id"])]
        assert all(row[column] == pytest.approx(reference[column], abs=1e-9) for column in COMBINED_COLUMNS)
    assert all(row["combined"] is None and row["n_humans"] is None for row in rows if row not in labelled)
    text = _summary(capsys, db_url)
    assert "== combined human + judge win rates (percent, PPI++, 95% interval" in text
    pairwise = next(row for row in labelled if row["judge_kind"] == "pairwise")
    low, high = format_figure(pairwise["combined_ci_low"], 1), format_figure(pairwise["combined_ci_high"], 1)
    cell = f"{format_figure(pairwise['combined'], 1)} [{low}, {high}]"
    assert cell in text


def test_summary_without_human_labels_has_no_combined_keys(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.leaderboard_data import populate

    populate(Store(db_url), runs=1, epochs=1, prompts=10, with_decisions=False)
    rows = json.loads(_summary(capsys, db_url, "--json"))["pairwise"]
    assert rows and all("combined" not in row for row in rows)
    assert "combined" not in _summary(capsys, db_url)
