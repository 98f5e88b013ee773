"""`evalkit judge`: the Contract (JSON summaries), file and store inputs, errors, SIGKILL-and-resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.main import main
from evalkit.store import Store
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, Hang

SECRET = "sk-test-cli-secret-77"


def write_outputs(path: Path, generator: str, answers: dict[str, str]) -> Path:
    path.write_text(
        json.dumps([{"instruction": q, "output": a, "generator": generator, "dataset": "test"} for q, a in answers.items()])
    )
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["judge", *args, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    model = write_outputs(tmp_path / "M.json", "mine", {f"Question {i}?": f"my answer {i}" for i in range(6)})
    # one instruction only in the model's file, one only in the baseline's: those are not judged
    reference = write_outputs(tmp_path / "R.json", "ref", {f"Question {i}?": f"reference answer {i}" for i in range(1, 7)})
    return model, reference


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_contract_pairwise_likert_alpaca_and_custom(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, reference = files
    db = f"sqlite:///{tmp_path / 'x.db'}"
    with FakeOpenAIServer(reply_text="Answer A is significantly better.") as server:
        common = ["--judge-base-url", server.base_url, "--judge-model", "fake-judge", "--concurrency", "4", "--db", db]
        pairwise = run_json(capsys, "--judge", "pairwise", "--outputs", str(model), "--baseline", str(reference), *common)
        # "always A" disagrees with itself across the two orders: every pair is a tie
        assert {k: pairwise[k] for k in ("wins", "ties", "losses", "invalid", "requests")} == {
            "wins": 0,
            "ties": 5,
            "losses": 0,
            "invalid": 0,
            "requests": 10,
        }
        again = run_json(capsys, "--judge", "pairwise", "--outputs", str(model), "--baseline", str(reference), *common)
        assert again["requests"] == 0 and again["ties"] == 5 and server.count == 10

        server.reply_text = "Reasoning.\n4\n4"
        likert = run_json(capsys, "--judge", "likert", "--outputs", str(model), *common)
        assert (likert["mean"], likert["ci_low"], likert["ci_high"], likert["invalid"], likert["requests"]) == (
            4.0,
            4.0,
            4.0,
            0,
            6,
        )

        alpaca = run_json(capsys, "--judge", "alpaca_eval", "--outputs", str(model), "--baseline", str(reference), *common)
        assert alpaca["requests"] == 5 and 0 <= alpaca["win_rate"] <= 100 and alpaca["standard_error"] is not None

        (tmp_path / "t.txt").write_text("{instruction}\n{output}\nSay YES or NO.")
        (tmp_path / "spec.yaml").write_text(
            "name: yesno\nmode: single\ntemplate: t.txt\nparse: ends_with\nchoices: {YES: 1, NO: 0}\n"
        )
        server.reply_text = "Clearly YES"
        custom = run_json(capsys, "--judge", str(tmp_path / "spec.yaml"), "--outputs", str(model), *common)
        assert custom["judge"] == "yesno" and custom["mean"] == 1.0 and custom["requests"] == 6
        # the table format for people
        assert main(["judge", "--judge", "pairwise", "--model", "mine", "--baseline-model", "ref", *common]) == 0
        printed = capsys.readouterr().out
        assert "wins" in printed and "ties" in printed and "requests" in printed
    assert SECRET.encode() not in (tmp_path / "x.db").read_bytes()


def test_reference_judge_is_the_offline_default(
    files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    model, reference = files
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        "\n".join(json.dumps({"id": str(i), "prompt": f"Question {i}?", "reference": f"my answer {i}"}) for i in range(7))
    )
    db = ["--db", f"sqlite:///{tmp_path / 'x.db'}"]
    result = run_json(capsys, "--outputs", str(model), "--baseline", str(reference), "--prompts", str(prompts), *db)
    assert result["judge"] == "reference" and "reference-overlap" in result["label"] and result["wins"] == 5
    bands = run_json(capsys, "--judge", "reference", "--outputs", str(model), "--prompts", str(prompts), *db)
    assert bands["mean"] == 6.0 and bands["requests"] == 0


def test_user_errors_are_one_line_exit_2(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.generate.server import free_port

    model, reference = files
    db = ["--db", f"sqlite:///{tmp_path / 'x.db'}"]
    unreachable = ["--judge-base-url", f"http://127.0.0.1:{free_port()}/v1", "--http-retries", "0"]
    cases = [
        (["--judge", "pairwise", "--outputs", str(model), "--baseline", str(reference), *unreachable], "cannot reach"),
        (["--judge", "pairwise", "--outputs", str(model), *unreachable], "--baseline"),
        (["--judge", "likert", "--outputs", str(tmp_path / "missing.json"), *unreachable], "not found"),
        (["--judge", "nope", "--outputs", str(model)], "unknown judge"),
    ]
    for args, message in cases:
        assert main(["judge", *args, *db]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0 and SECRET not in err


@pytest.mark.slow  # a child process killed mid-job, then resumed
def test_sigkill_then_resume_loses_nothing_and_asks_nothing_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs, kill_after = 40, 24
    model = write_outputs(tmp_path / "M.json", "mine", {f"Question {i}?": f"my answer {i}" for i in range(pairs)})
    reference = write_outputs(tmp_path / "R.json", "ref", {f"Question {i}?": f"reference answer {i}" for i in range(pairs)})
    db = f"sqlite:///{tmp_path / 'x.db'}"
    frozen = threading.Event()

    def responder(body: dict[str, Any]) -> Any:
        time.sleep(0.02)
        return Hang(5.0) if frozen.is_set() else Completion("Answer B is significantly better.")

    with FakeOpenAIServer(responder) as server:
        args = [
            "judge",
            "--judge",
            "pairwise",
            "--outputs",
            str(model),
            "--baseline",
            str(reference),
            "--judge-base-url",
            server.base_url,
            "--judge-model",
            "fake-judge",
            "--concurrency",
            "4",
            "--db",
            db,
        ]
        child = subprocess.Popen(
            [sys.executable, "-m", "evalkit", *args], env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while server.count < kill_after and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.005)
        frozen.set()  # answer nothing more; what was answered gets 0.5 s to reach the store
        time.sleep(0.5)
        answered = server.stats()["statuses"].get("200", 0)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
        asked_first = server.count
        stored = len(Store(db).judgments("pairwise"))
        assert kill_after - 4 <= answered == stored < 2 * pairs  # nothing answered was lost
        frozen.clear()
        resumed = run_json(capsys, *args[1:])
    assert resumed["requests"] == 2 * pairs - stored  # nothing stored is asked again
    assert server.count == asked_first + resumed["requests"] and asked_first - answered <= 4  # only in-flight ones twice
    assert len(Store(db).judgments("pairwise")) == 2 * pairs and resumed["wins"] + resumed["losses"] + resumed["ties"] == pairs
