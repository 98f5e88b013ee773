"""`evalkit judge-quality` from files: the Contract checked literally through the command line, every
input format (ids, flipped pairs, unmatched items, cost), alpaca-eval's Analyzer on the humans, and
one-line errors for bad rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.main import main

DATA = Path(__file__).parents[1] / "fixtures" / "data" / "judge_quality"
ROOT = Path(__file__).resolve().parents[2]
AGREEMENT_FIELDS = ("human_agreement_tie_discounted", "human_agreement", "human_agreement_without_ties", "cohen_kappa")


def report(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["judge-quality", *args, "--json", "--resamples", "200"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.mark.slow  # a fresh interpreter: 3-10 s of imports on a shared machine
def test_contract_through_the_command_line() -> None:
    from sklearn.metrics import cohen_kappa_score

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "evalkit",
            "judge-quality",
            "--humans",
            str(DATA / "pandalm_humans.json"),
            "--judge-labels",
            str(DATA / "judge_a.jsonl"),
            "--judge-labels",
            str(DATA / "judge_b.jsonl"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)  # one JSON object, nothing else on stdout
    assert isinstance(out, dict) and isinstance(out["judges"], list) and len(out["judges"]) == 2
    for entry in [*out["judges"], out["humans"]]:
        for field in (
            "human_agreement_tie_discounted",
            "human_agreement",
            "human_agreement_without_ties",
            "prefer_first",
            "prefer_longer",
        ):  # fractions
            assert entry[field] is None or 0 <= entry[field] <= 1, (field, entry[field])
        assert entry["cohen_kappa"] is None or -1 <= entry["cohen_kappa"] <= 1  # a kappa: below 0 is worse than chance
    judges = {entry["name"]: entry for entry in out["judges"]}
    for entry in judges.values():
        assert {"name", "n", *AGREEMENT_FIELDS, "prefer_first", "prefer_longer"} <= set(entry)
    # humans' modes (every one unique here): B A A tie A B A A
    modes = ["B", "A", "A", "tie", "A", "B", "A", "A"]
    a = judges["judge-a"]
    labels_a = ["B", "A", "tie", "B", "A", "B", "A", "A"]
    assert a["n"] == 8
    assert a["human_agreement_tie_discounted"] == pytest.approx((1 + 1 + 0.5 + 0.5 + 1 + 1 + 1 + 1) / 8)
    assert a["human_agreement"] == pytest.approx(6 / 8)
    assert a["human_agreement_without_ties"] == pytest.approx(6 / 6)  # items 2 (judge tie) and 3 (humans tie) out
    assert a["cohen_kappa"] == pytest.approx(cohen_kappa_score(labels_a, modes))
    assert a["prefer_first"] == pytest.approx(4 / 7)  # non-tie verdicts B A B A B A A
    assert a["prefer_longer"] == pytest.approx(4 / 4)  # items 0, 4, 5, 6 differ by > 30 characters; it picks the longer
    b = judges["judge-b"]  # item 7 invalid (null label): left out
    assert b["n"] == 7 and b["invalid"] == 1
    assert b["human_agreement_tie_discounted"] == pytest.approx((0 + 1 + 1 + 0.5 + 0 + 0.5 + 0) / 7)
    assert b["prefer_first"] == pytest.approx(4 / 6) and b["prefer_longer"] == pytest.approx(0 / 3)
    assert out["judges"][0]["name"] == "judge-a"  # best first
    humans = out["humans"]
    assert humans["n"] == 8 and humans["raters"] == 3
    assert {"name", "n", *AGREEMENT_FIELDS} <= set(humans)


def test_humans_figure_matches_alpaca_eval_and_items_are_matched_by_text(capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd
    from alpaca_eval.analyze import Analyzer

    out = report(capsys, "--humans", str(DATA / "alpaca_cross.json"), "--judge-labels", str(DATA / "alpaca_judge.json"))
    cross = pd.read_json(DATA / "alpaca_cross.json")
    analyzer = Analyzer(
        gold_crossannotations=cross.copy(), gold_annotations=cross.copy(), n_annotators=4, scoring_rule="absolute"
    )
    expected = analyzer.agreement_of_annotations("gold_crossannotations", n_majority_vote_1=1)["score"]
    assert out["humans"]["human_agreement_tie_discounted"] == pytest.approx(expected)
    (judge,) = out["judges"]
    # fruit: 1.93 -> output_2 as the humans' mode; "2 + 2?" shown swapped, 1.9 -> "4" as the humans; greeting: null
    assert judge["name"] == "weighted_gpt4" and judge["n"] == 2 and judge["invalid"] == 1 and judge["unmatched"] == 1
    assert judge["human_agreement_tie_discounted"] == pytest.approx(1.0)
    assert judge["cost_per_1000"] == pytest.approx(3.0) and judge["seconds_per_1000"] == pytest.approx(2000.0)


def test_mtbench_items_in_either_model_order(capsys: pytest.CaptureFixture[str]) -> None:
    out = report(capsys, "--humans", str(DATA / "mtbench_humans.jsonl"), "--judge-labels", str(DATA / "mtbench_judge.jsonl"))
    (judge,) = out["judges"]
    assert judge["name"] == "gpt4-pair" and judge["n"] == 2 and judge["unmatched"] == 0
    # item 81: expert_0 gpt-4, author_1 gpt-4 (shown as model_b), expert_2 tie -> mode gpt-4 = A; the judge says A.
    # item 82 named with the models swapped: the judge's A (llama-13b) is B of the humans' item, whose two labels
    # (B, tie) tie for the mode: alpaca_eval's pick decides
    import pandas as pd
    from alpaca_eval.metrics.helpers import _random_mode

    mode_82 = _random_mode(pd.Series([2.0, 1.5]))
    assert judge["human_agreement_tie_discounted"] == pytest.approx((1 + 1 - abs(2.0 - mode_82)) / 2)
    assert out["humans"]["raters"] == 3


def test_store_save_and_text_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    args = [
        "judge-quality",
        "--humans",
        str(DATA / "pandalm_humans.json"),
        "--judge-labels",
        str(DATA / "judge_a.jsonl"),
        "--resamples",
        "50",
        "--db",
        db,
        "--save",
        "pandalm-check",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "humans" in text and "judge-a" in text
    from evalkit.judge_eval.saved import saved_reports
    from evalkit.store import Store

    saved = saved_reports(Store(db))
    assert list(saved["name"]) == ["pandalm-check"]
    assert saved["report"].iloc[0]["judges"][0]["name"] == "judge-a"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "h.json",
            '[{"idx": 1, "instruction": "q", "input": "", "response1": "a", "response2": "b", "annotator1": 1},\n'
            ' {"idx": 2, "instruction": "q", "input": "", "response1": "a", "response2": "b", "annotator1": 7}]',
            ":2: annotator1 must be 0 (tie), 1 (response1) or 2 (response2)",
        ),
        (
            "h.jsonl",
            '{"instruction": "q", "output_1": "a", "output_2": "b", "preference": 1}\n'
            '{"instruction": "q", "output_1": "a", "output_2": "b", "preference": 3}\n',
            ":2: preference must be",
        ),
        (
            "h.jsonl",
            '{"item": 1, "rater": "x", "label": "A"}\n\n{"item": 2, "rater": "x", "label": "left"}\n',
            ":3: label must be",
        ),
        (
            "h.jsonl",
            '{"question_id": 1, "model_a": "m", "model_b": "n", "winner": "model_c", "judge": "e"}\n',
            ":1: winner must be",
        ),
        ("h.jsonl", '{"item": 1, "rater": "x", "label": "A"}\n{"item": 2, "rater": "x", "label": "B"\n', ":2: bad JSON"),
        (
            "h.jsonl",
            '{"item": 1, "rater": "x", "label": "A"}\n{"idx": 2, "response1": "a", "response2": "b"}\n',
            ":2: not a labels row",
        ),
        ("h.jsonl", '{"what": 1}\n', ":1: unknown layout"),
    ],
)
def test_bad_rows_are_one_line_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert main(["judge-quality", "--humans", str(path), "--judge-labels", str(DATA / "judge_a.jsonl"), "--json"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith(f"evalkit: error: {path}") and message in err and "\n" not in err and captured.out == ""


def test_other_user_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    humans = str(DATA / "pandalm_humans.json")
    unrelated = tmp_path / "other.jsonl"
    unrelated.write_text('{"item": "zzz", "rater": "j", "label": "A"}\n')
    twice = tmp_path / "twice.jsonl"
    twice.write_text('{"item": 1, "rater": "x", "label": "A"}\n{"item": 1, "rater": "x", "label": "B"}\n')
    cases = [
        (["--humans", humans], "no judge to score"),
        (["--humans", humans, "--judge-labels", str(unrelated)], "none of its 1 items"),
        (["--humans", str(twice), "--judge-labels", str(DATA / "judge_a.jsonl")], "more than once"),
        (["--humans", str(DATA / "judge_a.jsonl"), "--judge", "pairwise", "--db", f"sqlite:///{tmp_path / 'x.db'}"], "no texts"),
        (["--humans", humans, "--format", "mtbench", "--judge-labels", str(DATA / "judge_a.jsonl")], "not a mtbench row"),
    ]
    for args, message in cases:
        assert main(["judge-quality", *args]) == 2, args
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
