"""`evalkit data expand / lengthen / tag` against the scripted OpenAI-compatible server: replies in the
expected JSON lines are used, garbage is counted and kept out, every finished call is cached (a re-run
sends nothing; a SIGKILLed run is finished by the next without asking again), transport errors are
never cached, and the budget stops before overspending."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.main import main
from evalkit.datarecipes.rows import read_rows, single_turn, write_rows
from evalkit.train.dialogs import load_dialogs
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, Garbage, HTTPError, last_user_message


def _expansion_reply(body: dict[str, Any]) -> Completion:
    """Mini LIMA's three prompts answered in the JSON lines they ask for; one seed task gets garbage."""
    prompt = last_user_message(body)
    if "new tasks in the same format" in prompt:
        lines = [
            "```json",
            '{"name": "haiku", "instruction": "Write a haiku about rain."}',
            '{"name": "broken", "instr',
            '{"name": "units", "instruction": "Convert 5 miles to kilometres."}',
            '{"name": "dup", "instruction": "Explain tides."}',
            "```",
        ]
        return Completion("Here you go:\n" + "\n".join(lines))
    if '"name": "garbage-task"' in prompt and "new instances of this task" in prompt:
        return Completion("I am sorry, I cannot help with that.")
    count = int(prompt.rsplit("Answer with exactly ", 1)[1].split()[0])
    tag = "seed" if "new instances of this task" in prompt else "new"
    task_lines = [line for line in prompt.splitlines() if line.startswith('{"name"')]
    name = json.loads(task_lines[-1])["name"]  # one-shot prompts show the example task first, the new task last
    return Completion(
        "\n".join(json.dumps({"input": f"{tag} input {i}", "output": f"{name} {tag} output number {i}."}) for i in range(count))
    )


def _seeds(path: Path) -> Path:
    write_rows(
        path,
        [
            single_turn("Explain tides.", "The moon pulls the oceans.", task="tides"),
            single_turn("Name a prime.", "7.", task="primes"),
            single_turn("Do something odd.", "Odd.", task="garbage-task"),
        ],
    )
    return path


def _run(*args: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_expand_uses_json_lines_counts_garbage_and_caches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeds, out, db = _seeds(tmp_path / "seeds.jsonl"), tmp_path / "out.jsonl", f"sqlite:///{tmp_path / 'x.db'}"
    with FakeOpenAIServer(_expansion_reply) as server:
        args = (
            "data",
            "expand",
            str(seeds),
            "--out",
            str(out),
            "--new-tasks",
            "2",
            "--model",
            "gen",
            "--base-url",
            server.base_url,
            "--db",
            db,
            "--json",
            "--no-progress",
        )
        report = _run(*args, capsys=capsys)
        assert server.count == 1 + 3 + 2  # one new-task request, one per seed task, one per new task
        assert report["new_tasks"]["produced"] == 2 and report["new_tasks"]["dropped_lines"] == 1
        assert report["instances"]["unparseable"] == 1  # the garbage-task reply: counted, nothing of it kept
        rows = read_rows(out)
        assert len(rows) == 3 + 2 * 2 + 2 * 5 == report["written"]
        assert [r.extra["task"] for r in rows[3:]] == ["tides"] * 2 + ["primes"] * 2 + ["haiku"] * 5 + ["units"] * 5
        assert rows[3].messages[0]["content"] == "Explain tides.\n\nseed input 0"
        assert not any("garbage-task" == r.extra.get("task") for r in rows[3:])
        assert len(load_dialogs(out)) == len(rows)  # training accepts the result
        first = out.read_text()
        again = _run(*args, capsys=capsys)
        assert server.count == 6 and again["instances"]["cached"] == 5 and out.read_text() == first


def test_lengthen_rewrites_short_outputs_and_keeps_originals_on_bad_replies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.jsonl"
    write_rows(
        data,
        [
            single_turn("Why is the sky blue?", "Scattering."),
            single_turn("Say hi.", "Hi."),
            single_turn("Long one?", " ".join(["word"] * 50)),
        ],
    )

    def reply(body: dict[str, Any]) -> Completion:
        prompt = last_user_message(body)
        if "Say hi." in prompt:
            return Completion("")  # empty: not longer, so unusable
        return Completion("Sunlight is scattered by air molecules, and blue light, with its short wavelength, scatters most.")

    with FakeOpenAIServer(reply) as server:
        report = _run(
            "data",
            "lengthen",
            str(data),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--min-words",
            "10",
            "--model",
            "gen",
            "--base-url",
            server.base_url,
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--json",
            "--no-progress",
            capsys=capsys,
        )
        assert server.count == 2  # the 50-word output is long enough already
    assert (report["too_short"], report["rewritten"], report["unparseable"]) == (2, 1, 1)
    rows = read_rows(tmp_path / "o.jsonl")
    assert rows[0].output.startswith("Sunlight") and rows[0].extra["lengthened"] is True
    assert rows[1].output == "Hi." and rows[2].output == " ".join(["word"] * 50)


def test_tag_from_llm_normalises_and_counts_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.jsonl"
    write_rows(
        data, [single_turn("Write a poem.", "..."), single_turn("Write poems about cats.", "..."), single_turn("??", "...")]
    )
    replies = {
        "Write a poem.": '[{"tag": "Poem", "explanation": "asks for a poem"}, {"tag": "Creative_Writing", "explanation": ""}]',
        "Write poems about cats.": '```json\n[{"tag": "poems", "explanation": ""}, {"tag": "cats", "explanation": ""}]\n```',
        "??": "no idea",
    }

    def reply(body: dict[str, Any]) -> Completion:
        prompt = last_user_message(body)
        return Completion(next(text for key, text in replies.items() if f"Query:\n{key}\n" in prompt))

    with FakeOpenAIServer(reply) as server:
        report = _run(
            "data",
            "tag",
            str(data),
            "--out",
            str(tmp_path / "t.jsonl"),
            "--model",
            "gen",
            "--base-url",
            server.base_url,
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--json",
            "--no-progress",
            capsys=capsys,
        )
    assert [r.tags for r in read_rows(tmp_path / "t.jsonl")] == [["poem", "creative writing"], ["poem", "cats"], []]
    assert (report["unparseable"], report["untagged"], report["distinct_tags"]) == (1, 1, 3)


def test_transport_errors_are_not_cached_and_budget_stops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.judges.pricing import Budget, PriceTable
    from evalkit.judges.templates import builtin_template

    data = tmp_path / "d.jsonl"
    write_rows(data, [single_turn(f"Question {i}?", "Short.") for i in range(6)])
    prices = tmp_path / "prices.yaml"
    prices.write_text("gen: {input: 100, output: 100}\n")  # USD per 1M tokens
    text = builtin_template("data_lengthen.txt").render(
        {"name": "", "instruction": "Question 0?", "input": "", "output": "Short."}
    )
    first_estimate = Budget(1.0, PriceTable({"gen": (100, 100)}), "gen").estimate([{"role": "user", "content": text}], 20)
    limit = 1.05 * first_estimate  # room for the first reservation, not for all six calls
    db = f"sqlite:///{tmp_path / 'x.db'}"
    common = (
        "data",
        "lengthen",
        str(data),
        "--out",
        str(tmp_path / "o.jsonl"),
        "--min-words",
        "5",
        "--model",
        "gen",
        "--db",
        db,
        "--json",
        "--no-progress",
        "--concurrency",
        "1",
        "--prices",
        str(prices),
        "--max-tokens",
        "20",
    )
    with FakeOpenAIServer(reply_text="A much longer and more detailed answer than before.") as server:
        server.script(*[HTTPError(500, retry_after=0.01)] * 6)  # the first call fails through all its retries
        report = _run(*common, "--base-url", server.base_url, "--max-cost", str(limit), capsys=capsys)
        assert report["transport_errors"] == 1 and report["not_sent_budget"] >= 1 and 0 < report["cost_usd"] <= limit
        sent_ok = report["requests"] - report["transport_errors"]
        assert report["rewritten"] == sent_ok >= 1
        server.reset()
        report = _run(*common, "--base-url", server.base_url, capsys=capsys)
        assert report["cached"] == sent_ok and server.count == 6 - sent_ok and report["rewritten"] == 6


def _stored_calls(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("select count(*) from data_generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.slow
def test_sigkill_loses_only_calls_in_flight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.jsonl"
    write_rows(data, [single_turn(f"Question {i}?", "Short.") for i in range(8)])
    db = tmp_path / "x.db"
    with FakeOpenAIServer(reply_text="A longer and more detailed answer.", latency=0.3) as server:
        args = [
            "data",
            "lengthen",
            str(data),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--min-words",
            "5",
            "--model",
            "gen",
            "--base-url",
            server.base_url,
            "--db",
            f"sqlite:///{db}",
            "--json",
            "--no-progress",
            "--concurrency",
            "1",
        ]
        child = subprocess.Popen(
            [sys.executable, "-m", "evalkit", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "OPENAI_API_KEY": "sk-test"},
        )
        deadline = time.monotonic() + 60
        while _stored_calls(db) < 3 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        stored = _stored_calls(db)
        assert 3 <= stored < 8 and not (tmp_path / "o.jsonl").exists()
        server.reset()
        report = _run(*args, capsys=capsys)
    assert report["cached"] == stored and server.count == 8 - stored and report["rewritten"] == 8


def test_a_garbage_http_body_is_a_transport_error_and_asked_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.jsonl"
    write_rows(data, [single_turn("Why?", "Because."), single_turn("How?", "Carefully.")])
    args = (
        "data",
        "lengthen",
        str(data),
        "--out",
        str(tmp_path / "o.jsonl"),
        "--min-words",
        "5",
        "--model",
        "gen",
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--json",
        "--no-progress",
        "--concurrency",
        "1",
    )
    with FakeOpenAIServer(reply_text="A longer answer with more words in it.") as server:
        server.script(Garbage())  # a 200 whose body is not JSON
        report = _run(*args, "--base-url", server.base_url, capsys=capsys)
        assert (report["transport_errors"], report["rewritten"], report["unparseable"]) == (1, 1, 0)
        report = _run(*args, "--base-url", server.base_url, capsys=capsys)
        assert (report["cached"], report["requests"], report["rewritten"]) == (1, 1, 2)
