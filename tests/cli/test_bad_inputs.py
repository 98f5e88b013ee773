"""The table of bad inputs from issue 12, through the CLI: each ends with exit code 2 (1 where some
work was done with a failure), at most two lines on stderr, no traceback, and no file that did not
exist before. The two `run` cases of the contract run as a user would, in a child process."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from evalkit.cli.main import main
from evalkit.generate.server import free_port
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer
from tests.helpers import run_cli, write_prompts


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_clean_failure(code: int, expected_code: int, stderr: str, before: dict[str, bytes], folder: Path) -> None:
    assert code == expected_code, stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) <= 2, stderr
    assert snapshot(folder) == before  # nothing created, nothing changed


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the files the cases need; the default store would land here (and must not)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALKIT_DB", raising=False)
    good = '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'
    (tmp_path / "bad.jsonl").write_text("\n".join([good, "not json", '{"x": 1}', good, '{"messages": []}']) + "\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    (tmp_path / "base.json").write_text(json.dumps([{"instruction": "q", "output": "a", "generator": "base"}]))
    (tmp_path / "x.db").write_bytes(os.urandom(8192))
    foreign = sqlite3.connect(tmp_path / "theirs.db")
    foreign.execute("CREATE TABLE models (id INTEGER, name TEXT)")
    foreign.commit()
    foreign.close()
    return tmp_path


CASES = {
    "temperature -1": (["generate", "--checkpoint", "broken", "--temperature", "-1"], "--temperature: must be 0 or more"),
    "top-p 2": (["generate", "--checkpoint", "broken", "--top-p", "2"], "--top-p: must be in (0, 1]"),
    "generate concurrency 0": (["generate", "--checkpoint", "broken", "--concurrency", "0"], "--concurrency: must be at least 1"),
    "run judge-concurrency 0": (["run", "--checkpoint", "broken", "--judge-concurrency", "0"], "--judge-concurrency"),
    "annotate limit -3": (
        ["annotate", "create", "--models", "a", "b", "--prompts", "dev", "--per-item", "2", "--limit", "-3"],
        "--limit: must be at least 1",
    ),
    "judge max-cost -1": (["judge", "--outputs", "base.json", "--max-cost", "-1"], "--max-cost: must be greater than 0"),
    # judge-quality asks judges with the same flags as judge (one definition): the same values refused
    "judge-quality concurrency 0": (
        ["judge-quality", "--humans", "base.json", "--judge", "pairwise", "--concurrency", "0"],
        "--concurrency: must be at least 1",
    ),
    "judge-quality samples 0": (
        ["judge-quality", "--humans", "base.json", "--judge", "pairwise", "--samples", "0"],
        "--samples: must be at least 1",
    ),
    "random bytes x.db (stats)": (["stats", "summary", "--db", "sqlite:///x.db"], "x.db is not an evalkit store"),
    "random bytes x.db (agreement)": (["agreement", "--db", "sqlite:///x.db"], "x.db is not an evalkit store"),
    "random bytes x.db (leaderboard)": (
        ["leaderboard", "--db", "sqlite:///x.db", "--port", str(free_port())],
        "x.db is not an evalkit store",
    ),
    "foreign sqlite (stats)": (["stats", "summary", "--db", "sqlite:///theirs.db"], "theirs.db is not an evalkit store"),
    "foreign sqlite (leaderboard)": (
        ["leaderboard", "--db", "sqlite:///theirs.db", "--port", str(free_port())],
        "theirs.db is not an evalkit store",
    ),
    "stats on a typo store": (["stats", "summary", "--db", "sqlite:///typo.db"], "no results store at typo.db"),
    "annotate status without a store": (["annotate", "status"], "no results store at evalkit.db"),
    "checkpoint error in generate": (["generate", "--checkpoint", "broken", "--prompts", "dev"], "config.json is not valid JSON"),
    "checkpoint error in run": (
        ["run", "--checkpoint", "broken", "--judges", "reference", "--baseline", "base.json"],
        "no checkpoint can be loaded",
    ),
    "several bad training lines": (
        ["train", "--data", "bad.jsonl", "--model", "broken", "--out", "out"],
        "bad.jsonl: 3 bad lines of 5: line 2: not valid JSON",
    ),
    "unknown db scheme": (["stats", "summary", "--db", "foo://x"], "unknown database scheme 'foo'"),
    "db driver missing": (["stats", "summary", "--db", "mysql://u:hunter2@localhost/db"], "driver 'MySQLdb' is not installed"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_cleanly(case: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv, expected = CASES[case]
    before = snapshot(workdir)
    code = main(argv)
    err = capsys.readouterr().err
    assert_clean_failure(code, 2, err, before, workdir)
    assert expected in err and "hunter2" not in err


def test_offline_hub_lookup_fails_fast(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before, began = snapshot(workdir), time.perf_counter()
    code = main(["generate", "--checkpoint", "broken", "--prompts", "hf:nobody/no-such-set"])
    err = capsys.readouterr().err
    assert_clean_failure(code, 2, err, before, workdir)
    assert "hub is unreachable" in err and time.perf_counter() - began < 20


def test_busy_port_fails_before_reading_the_store(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        before = snapshot(workdir)
        code = main(["leaderboard", "--db", "sqlite:///typo.db", "--port", str(busy.getsockname()[1])])
    err = capsys.readouterr().err
    assert_clean_failure(code, 2, err, before, workdir)
    assert "cannot serve on 127.0.0.1" in err and "typo.db" not in err


def test_out_of_range_preference_is_counted_and_numbers_stay_alpaca_evals(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alpaca_eval.metrics import get_winrate

    rows = [{"preference": p} for p in (1, 2, 1.5, 2, 1, 3.7)]
    (workdir / "annotations.json").write_text(json.dumps(rows))
    before = snapshot(workdir)
    assert main(["stats", "winrate", "--annotations", "annotations.json", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err.strip() == "evalkit: annotations.json: 1 row with preference 3.7 outside [0, 2] left out"
    assert snapshot(workdir) == before
    expected = get_winrate(rows)
    assert json.loads(out)["win_rate"] == pytest.approx(expected["win_rate"]) and json.loads(out)["n_total"] == 5


def test_likert_judge_with_only_invalid_replies_exits_1(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.store import Store

    outputs = [{"instruction": f"question {i}", "output": f"answer {i}", "generator": "m"} for i in range(3)]
    (workdir / "outputs.json").write_text(json.dumps(outputs))
    Store("sqlite:///evalkit.db").engine.dispose()
    with FakeOpenAIServer(lambda body: Completion("I would rather not grade this.")) as server:
        code = main(
            [
                "judge",
                "--judge",
                "likert",
                "--outputs",
                "outputs.json",
                "--judge-base-url",
                server.base_url,
                "--judge-model",
                "fake-judge",
                "--max-retries",
                "0",
                "--json",
            ]
        )
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "all 3 replies were invalid" in err and json.loads(out)["invalid"] == 3


@pytest.mark.slow
def test_run_with_a_bad_judge_setting_fails_in_seconds_before_generating(tiny_model_dir: Path, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "p.jsonl", 3)
    db = tmp_path / "evalkit.db"
    common = [
        "run",
        "--checkpoint",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--db",
        f"sqlite:///{db}",
        "--max-new-tokens",
        "4",
    ]
    cases = [
        (["--judges", "bogus"], {}, "unknown judge 'bogus'"),
        (
            ["--judges", "pairwise,likert", "--judge-base-url", f"http://127.0.0.1:{free_port()}/v1"],
            {"OPENAI_API_KEY": "sk-x"},
            "cannot reach judge endpoint",
        ),
        (
            ["--judges", "likert"],
            {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", "EVALKIT_JUDGE_BASE_URL": ""},
            "OPENAI_API_KEY is not set",
        ),
    ]
    for extra, env, expected in cases:
        began = time.perf_counter()
        result = run_cli(*common, *extra, env=env, timeout=60)
        assert time.perf_counter() - began < 30
        assert result.returncode == 2 and expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2
        assert not db.exists()  # no store, so no generation stored


def test_debug_shows_the_traceback_when_asked(workdir: Path) -> None:
    from evalkit.core.errors import EvalkitError

    with pytest.raises(EvalkitError, match="no results store"):
        main(["--debug", "stats", "summary", "--db", "sqlite:///typo.db"])
    assert not (workdir / "typo.db").exists()
