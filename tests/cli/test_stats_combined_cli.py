"""`evalkit stats combined`: the JSON object's keys and figures on the judge-quality fixtures (checked
against ppi_py and a hand-worked mean), the text table, and one-line errors for bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evalkit.cli.main import main

DATA = Path(__file__).parents[1] / "fixtures" / "data" / "judge_quality"
SHOWN = re.compile(r"Answer A:\n(.*)\n\nAnswer B:\n(.*)\n\nComparing", re.DOTALL)
KEYS = {
    "estimate",
    "ci_low",
    "ci_high",
    "level",
    "n_humans",
    "n_judge",
    "method",
    "lambda",
    "human_only",
    "effective_n_humans",
}
# pandalm_humans.json, per item: annotators' preference for response1 (1 -> 1, 0 tie -> 0.5, 2 -> 0), averaged
HUMANS = [0.0, 1.0, 2.5 / 3, 2 / 3, 2 / 3, 1 / 3, 2.5 / 3, 2 / 3]


def combined(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["stats", "combined", *args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _judge_a() -> list[float]:
    rows = [json.loads(line) for line in (DATA / "judge_a.jsonl").read_text().splitlines()]
    return [{"A": 1.0, "tie": 0.5, "B": 0.0}[row["label"]] for row in sorted(rows, key=lambda r: int(r["item"]))]


def test_json_object_on_the_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    ppi_py = pytest.importorskip("ppi_py")
    out = combined(capsys, "--humans", str(DATA / "pandalm_humans.json"), "--judge-labels", str(DATA / "judge_a.jsonl"))
    assert set(out) == KEYS and set(out["human_only"]) == {"estimate", "ci_low", "ci_high"}
    assert out["method"] == "ppi++" and out["level"] == 0.95
    assert out["n_humans"] == 8 and out["n_judge"] == 8
    y, f = np.array(HUMANS), np.array(_judge_a())
    assert out["human_only"]["estimate"] == pytest.approx(np.mean(HUMANS), abs=1e-12)
    low, high = ppi_py.ppi_mean_ci(y, f, f, alpha=0.05)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((float(np.squeeze(low)), float(np.squeeze(high))), abs=1e-9)
    assert out["estimate"] == pytest.approx(float(np.squeeze(ppi_py.ppi_mean_pointestimate(y, f, f))), abs=1e-9)
    width = out["ci_high"] - out["ci_low"]
    human_width = out["human_only"]["ci_high"] - out["human_only"]["ci_low"]
    assert out["effective_n_humans"] == pytest.approx(8 * (human_width / width) ** 2)


def test_humans_on_a_subset_of_the_judges_items(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ppi_py = pytest.importorskip("ppi_py")
    rows = json.loads((DATA / "pandalm_humans.json").read_text())
    subset = tmp_path / "humans.json"
    subset.write_text(json.dumps(rows[:5]))
    out = combined(capsys, "--humans", str(subset), "--judge-labels", str(DATA / "judge_a.jsonl"), "--level", "0.9")
    assert out["n_humans"] == 5 and out["n_judge"] == 8 and out["level"] == 0.9
    f_all = np.array(_judge_a())
    low, high = ppi_py.ppi_mean_ci(np.array(HUMANS[:5]), f_all[:5], f_all, alpha=0.1)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((float(np.squeeze(low)), float(np.squeeze(high))), abs=1e-9)


def test_flipped_pairs_and_invalid_judge_labels(capsys: pytest.CaptureFixture[str]) -> None:
    """alpaca_judge.json shows "2 + 2?" the other way round (the humans' labels are flipped onto its order),
    has no valid label on "Greet me." (left out of the judge's items) and one item the humans never saw."""
    out = combined(capsys, "--humans", str(DATA / "alpaca_cross.json"), "--judge-labels", str(DATA / "alpaca_judge.json"))
    assert out["n_humans"] == 2 and out["n_judge"] == 3
    # fruit: the humans prefer output_1 once in 4 -> 0.25; "22" first: no human prefers it, one tie -> 0.125
    assert out["human_only"]["estimate"] == pytest.approx((0.25 + 0.125) / 2)


def test_text_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["stats", "combined", "--humans", str(DATA / "pandalm_humans.json"), "--judge-labels", str(DATA / "judge_a.jsonl")]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "combined (ppi++)" in out and "humans only" in out and "62.5" in out


def test_bad_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    humans, judge = str(DATA / "pandalm_humans.json"), str(DATA / "judge_a.jsonl")
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"item": "0", "rater": "j", "label": "A"}\n{"item": "1", "rater": "j", "label": "maybe"}\n')
    two_judges = tmp_path / "two.jsonl"
    two_judges.write_text((DATA / "judge_a.jsonl").read_text() + (DATA / "judge_b.jsonl").read_text())
    cases = [
        (["--humans", str(DATA / "alpaca_cross.json"), "--judge-labels", judge], "share no item"),
        (["--humans", humans, "--judge-labels", judge, "--level", "1"], "--level"),
        (["--humans", humans, "--judge-labels", judge, "--level", "0"], "--level"),
        (["--humans", humans, "--judge-labels", judge, "--level", "-0.5"], "--level"),
        (["--humans", humans, "--judge-labels", str(unknown)], "unknown.jsonl:2"),
        (["--humans", humans, "--judge-labels", str(two_judges)], "one judge"),
    ]
    for args, message in cases:
        assert main(["stats", "combined", *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (args, err)


def _longer(body: dict[str, Any]) -> Any:
    """The scripted judge: the longer shown answer wins, equal lengths tie."""
    from tests.fixtures.fake_openai_server import Completion

    shown = SHOWN.search(body["messages"][0]["content"])
    assert shown is not None
    first, second = shown.groups()
    if len(first) == len(second):
        return Completion("Neither is significantly better.")
    return Completion(f"Answer {'A' if len(first) > len(second) else 'B'} is significantly better.")


@pytest.mark.slow  # a judge job against a real HTTP server
def test_judge_run_on_the_items_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--judge NAME --items FILE: the judge labels every pair of the items file (both orders, cached in the
    store); the humans' 8 labelled items are a subset of its 14; the figures are PPI++ on the judge's labels."""
    from tests.fixtures.fake_openai_server import FakeOpenAIServer

    ppi_py = pytest.importorskip("ppi_py")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    from evalkit.data.human_labels import read_labelled_pairs

    pairs = read_labelled_pairs(str(DATA / "pandalm_humans.json")).pairs  # the humans' 8 items, as texts
    labelled = [
        {"instruction": i, "output_1": a, "output_2": b, "preference": None}
        for i, a, b in pairs[["instruction", "output_1", "output_2"]].itertuples(index=False)
    ]
    extra = [
        {"instruction": f"Question {i}?", "output_1": "x" * (3 + i), "output_2": "y" * (8 - i), "preference": None}
        for i in range(6)
    ]
    unlabelled = labelled + extra
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(row) + "\n" for row in unlabelled))
    db = f"sqlite:///{tmp_path / 'combined.db'}"
    with FakeOpenAIServer(_longer) as server:
        args = ["--humans", str(DATA / "pandalm_humans.json"), "--judge", "pairwise@longer", "--items", str(items)]
        out = combined(capsys, *args, "--judge-base-url", server.base_url, "--db", db)
        assert server.count == 14 * 2  # every item, both orders
        again = combined(capsys, *args, "--judge-base-url", server.base_url, "--db", db)
        assert server.count == 28 and again == out  # from the store's cache
    assert out["n_humans"] == 8 and out["n_judge"] == 14
    f = np.array(
        [
            1.0 if len(row["output_1"]) > len(row["output_2"]) else 0.0 if len(row["output_1"]) < len(row["output_2"]) else 0.5
            for row in unlabelled
        ]
    )
    low, high = ppi_py.ppi_mean_ci(np.array(HUMANS), f[:8], f, alpha=0.05)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((float(np.squeeze(low)), float(np.squeeze(high))), abs=1e-9)
    assert out["estimate"] == pytest.approx(float(np.squeeze(ppi_py.ppi_mean_pointestimate(np.array(HUMANS), f[:8], f))))


def test_judge_source_refusals(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """One judge source, and --items only with --judge: one line, exit 2, before any file is read or judge asked."""
    humans, judge = str(DATA / "pandalm_humans.json"), str(DATA / "judge_a.jsonl")
    db = tmp_path / "never.db"
    cases = [
        (["--humans", humans], "--judge-labels FILE, or run one with --judge NAME"),
        (["--humans", humans, "--judge-labels", judge, "--judge", "pairwise"], "not both"),
        (["--humans", humans, "--judge", "pairwise"], "--items FILE"),
        (["--humans", humans, "--judge-labels", judge, "--items", judge], "--items is the set a --judge NAME runs on"),
    ]
    for args, message in cases:
        assert main(["stats", "combined", *args, "--db", f"sqlite:///{db}"]) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (args, err)
    assert not db.exists()
