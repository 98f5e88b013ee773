"""`evalkit stats sequential`: the JSON contract for one stream and several, the table, and bad inputs as
one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.cli.main import main

KEYS = ["stream", "n", "decided", "n_used", "winner", "ci_low", "ci_high"]


def write_labels(path: Path, rows: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, list[dict[str, object]]]:
    assert main(["stats", "sequential", *argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["streams"]
    for stream in out["streams"]:
        assert list(stream) == KEYS
    return out


def test_one_stream_without_stream_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = write_labels(tmp_path / "l.jsonl", [{"label": "B"}] * 40)
    (stream,) = run_json(capsys, "--labels", labels)["streams"]
    assert stream["stream"] is None and stream["n"] == 40 and stream["decided"] is True and stream["winner"] == "B"
    assert 0 < stream["n_used"] < 40  # type: ignore[operator]
    assert stream["ci_low"] == 0.0 and stream["ci_high"] < 0.5  # type: ignore[operator]


def test_several_streams_in_order_of_appearance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    for _ in range(300):  # interleaved, as judgments arrive
        rows.append({"stream": "epoch-2 vs epoch-1", "label": str(rng.choice(["A", "tie", "B"], p=[0.6, 0.3, 0.1]))})
        rows.append({"stream": 7, "label": str(rng.choice(["A", "tie", "B"], p=[0.35, 0.3, 0.35]))})
    labels = write_labels(tmp_path / "l.jsonl", rows)
    better, even = run_json(capsys, "--labels", labels, "--alpha", "0.01")["streams"]
    assert better["stream"] == "epoch-2 vs epoch-1" and better["decided"] and better["winner"] == "A"
    assert better["ci_low"] > 0.5 and better["n_used"] < 300  # type: ignore[operator]
    assert even["stream"] == 7 and even["decided"] is False and even["winner"] is None and even["n_used"] == 300
    assert even["ci_low"] < 0.5 < even["ci_high"]  # type: ignore[operator]

    assert main(["stats", "sequential", "--labels", labels]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split()[:5] == ["stream", "n", "decided", "n_used", "winner"]
    assert table[3].split()[:5] == ["7", "300", "no", "300", "-"]
    assert table[3].split()[-2].startswith("[") and "." in table[3].split()[-1]


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        ('{"label": "A"}\n{"label": "C"}\n', [], "l.jsonl:2: label must be A, B or tie"),
        ('{"label": "A"}\n{"stream": 1}\n', [], "l.jsonl:2: missing label"),
        ('{"label": "A"}\n[1]\n', [], "l.jsonl:2: expected a JSON object"),
        ('{"label": "A"}\nnot json\n', [], "l.jsonl:2"),
        ("", [], "has no labels"),
        ('{"label": "A"}\n', ["--alpha", "0"], "--alpha must be in (0, 1)"),
        ('{"label": "A"}\n', ["--alpha", "1.5"], "--alpha must be in (0, 1)"),
    ],
)
def test_bad_inputs_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, argv: list[str], message: str
) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text(content)
    assert main(["stats", "sequential", "--labels", str(path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_a_missing_file_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "sequential", "--labels", str(tmp_path / "absent.jsonl")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
