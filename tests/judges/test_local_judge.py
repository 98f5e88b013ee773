"""Local judges (`--judge-checkpoint`): a checkpoint served as the judge for one job, and invalid
judgments counted by reason on every surface.

Fast: bad inputs (one line, exit 2, nothing started or left running), the spec hash, invalid reasons
through the scripted server. Slow: SmolLM2-135M-Instruct served once by `transformers serve` judging
31 pairs with every judge kind; the CLI's own server (started, stopped, and gone after SIGTERM or
SIGKILL to evalkit mid-job); and vLLM's server where vLLM is installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from evalkit.cli.main import main
from evalkit.core.records import GenerationSetKey, JudgeIdentity
from evalkit.core.vocabulary import (
    EMPTY_REPLY,
    PROMPT_TOO_LONG,
    REPLY_CUT_OFF,
    UNPARSEABLE_REPLY,
)
from evalkit.data.alpaca import import_model_outputs
from evalkit.judges.local import LocalJudgeRequest, ServedJudge, serve_judge, vllm_available
from evalkit.judges.registry import make_judge
from evalkit.judges.runner import RunOptions, judge_pairs, judge_single
from evalkit.results.summary import Scope, summarize_store
from evalkit.store import Store
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, HTTPError, by_content
from tests.helpers import write_prompts

REASONS = {PROMPT_TOO_LONG, UNPARSEABLE_REPLY, EMPTY_REPLY, REPLY_CUT_OFF}
VLLM_CONTEXT_ERROR = (
    "This model's maximum context length is 8192 tokens. However, your prompt contains at least 9001 input tokens, "
    "which exceeds this limit even without any output tokens."
)


def _pairs_files(directory: Path, count: int, long_answer_words: int = 0) -> tuple[Path, Path]:
    """AlpacaEval files of `count` short question pairs (the model right, the baseline wrong), plus one
    pair whose answer is `long_answer_words` words long when asked (longer than any judge's context)."""
    capitals = [
        ("France", "Paris", "Lyon"),
        ("Japan", "Tokyo", "Osaka"),
        ("Italy", "Rome", "Milan"),
        ("Spain", "Madrid", "Seville"),
        ("Germany", "Berlin", "Munich"),
        ("Canada", "Ottawa", "Toronto"),
    ]
    model, baseline = [], []
    for i in range(count):
        country, right, wrong = capitals[i % len(capitals)]
        question = f"Question {i + 1}: what is the capital of {country}? Answer in one sentence."
        model.append({"instruction": question, "output": f"The capital of {country} is {right}.", "generator": "model"})
        baseline.append({"instruction": question, "output": f"The capital of {country} is {wrong}.", "generator": "base"})
    if long_answer_words:
        question = "Write a long essay about the sea."
        model.append({"instruction": question, "output": " ".join(["sea"] * long_answer_words), "generator": "model"})
        baseline.append({"instruction": question, "output": "The sea is large.", "generator": "base"})
    paths = directory / "model.json", directory / "base.json"
    for path, rows in zip(paths, (model, baseline)):
        path.write_text(json.dumps(rows))
    return paths


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("evalkit: error: "), err
    return lines[0]


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


# ---- fast -----------------------------------------------------------------------------------------


def test_the_judge_checkpoint_is_part_of_the_spec_hash() -> None:
    plain = make_judge("pairwise", judge_model="local:m")
    one = make_judge("pairwise", judge_model="local:m", judge_fingerprint="a" * 64)
    other = make_judge("pairwise", judge_model="local:m", judge_fingerprint="b" * 64)
    assert len({plain.spec_hash, one.spec_hash, other.spec_hash}) == 3
    assert one.description()["judge_checkpoint"] == "a" * 64 and "judge_checkpoint" not in plain.description()
    # an endpoint judge's hash is what it always was (its cached judgments stay valid)
    from evalkit.core.hashing import content_hash

    assert plain.spec_hash == content_hash({"kind": "pairwise", "mode": "pairwise", **plain.spec()})


@pytest.fixture()
def pair_files(tmp_path: Path) -> tuple[Path, Path]:
    return _pairs_files(tmp_path, 2)


def _judge_args(pair_files: tuple[Path, Path], tmp_path: Path, *extra: str) -> list[str]:
    model, base = pair_files
    return [
        "judge",
        "--judge",
        "pairwise",
        "--outputs",
        str(model),
        "--baseline",
        str(base),
        "--db",
        f"sqlite:///{tmp_path / 'j.db'}",
        *extra,
    ]


def test_bad_local_judge_inputs_exit_2_in_one_line(
    tiny_model_dir: Path,
    pair_files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unloadable = tmp_path / "broken"
    unloadable.mkdir()
    (unloadable / "config.json").write_text("{}")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    before = _children()
    cases = {
        "no such directory": ["--judge-checkpoint", str(tmp_path / "missing")],
        "no weights": ["--judge-checkpoint", str(unloadable)],
        "port is in use": ["--judge-checkpoint", str(tiny_model_dir), "--judge-server-port", str(port)],
        "longer than the judge checkpoint's context": [
            "--judge-checkpoint",
            str(tiny_model_dir),
            "--judge-max-model-len",
            "100000",
        ],
        "needs --judge-checkpoint": ["--judge-server", "transformers"],
        "drop --judge-base-url": ["--judge-checkpoint", str(tiny_model_dir), "--judge-base-url", "http://127.0.0.1:9/v1"],
        "drop --judge-model": ["--judge-checkpoint", str(tiny_model_dir), "--judge-model", "gpt-4o"],
    }
    try:
        for expected, flags in cases.items():
            assert main(_judge_args(pair_files, tmp_path, *flags)) == 2, expected
            assert expected in _one_error_line(capsys.readouterr().err)
        monkeypatch.setattr("evalkit.judges.local.vllm_available", lambda: False)
        assert main(_judge_args(pair_files, tmp_path, "--judge-checkpoint", str(tiny_model_dir), "--judge-server", "vllm")) == 2
        assert "vLLM is not installed" in _one_error_line(capsys.readouterr().err)
    finally:
        busy.close()
    assert _children() == before and not (tmp_path / "j.db").exists()  # nothing started, nothing written


def test_a_judge_server_that_does_not_come_up_in_time_exits_2_and_is_stopped(
    tiny_model_dir: Path, pair_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("fastapi", reason="transformers[serving] is not installed")
    before = _children()
    flags = ["--judge-checkpoint", str(tiny_model_dir), "--judge-server", "transformers", "--judge-server-timeout", "0.5"]
    assert main(_judge_args(pair_files, tmp_path, *flags)) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "did not start serving within 0 s (--judge-server-timeout)" in line or "within 1 s" in line
    assert _children() == before


def test_run_with_a_bad_judge_checkpoint_stops_before_generating(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = write_prompts(tmp_path / "p.jsonl", 2)
    db = tmp_path / "run.db"
    code = main(
        ["run", "--checkpoint", str(tiny_model_dir), "--prompts", str(prompts), "--db", f"sqlite:///{db}"]
        + ["--judge-checkpoint", str(tmp_path / "nope")]
    )
    assert code == 2 and "--judge-checkpoint" in _one_error_line(capsys.readouterr().err)
    assert not db.exists()  # no store, no generation


def test_smollm2_shortcut_names_the_converted_checkpoint(
    smollm2_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.judges.local import resolve_checkpoint

    monkeypatch.chdir(tmp_path)  # no directory called smollm2 here
    assert resolve_checkpoint("smollm2") == smollm2_dir


def _scripted(body: dict[str, Any]) -> Any:
    return by_content(
        [("ZZLONG", HTTPError(400, message=VLLM_CONTEXT_ERROR)), ("ZZGARBLE", Completion("I cannot decide, both are fine."))],
        Completion("Reasoning first.\nAnswer A is significantly better."),
    )(body)


def test_invalid_reasons_are_stored_counted_and_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A server's 400 "maximum context length" is an invalid judgment (prompt too long), stored, never
    asked again; an unreadable reply is invalid (unparseable reply); both counted by reason in
    `judge --json`, `stats summary` (JSON and text) and the leaderboard, valid figures unchanged."""
    questions = ["What is the sea?", "ZZLONG what is a river?", "ZZGARBLE what is a lake?", "What is rain?"]
    model, base = tmp_path / "m.json", tmp_path / "b.json"
    model.write_text(
        json.dumps([{"instruction": q, "output": f"Good answer {i}.", "generator": "m"} for i, q in enumerate(questions)])
    )
    base.write_text(
        json.dumps([{"instruction": q, "output": f"Poor answer {i}.", "generator": "b"} for i, q in enumerate(questions)])
    )
    db = f"sqlite:///{tmp_path / 'r.db'}"
    with FakeOpenAIServer(_scripted) as server:
        args = ["judge", "--judge", "pairwise", "--outputs", str(model), "--baseline", str(base), "--db", db, "--json"]
        args += ["--judge-base-url", server.base_url, "--judge-model", "scripted", "--max-retries", "0"]
        assert main(args) == 0
        first = json.loads(capsys.readouterr().out)
        assert server.count == 8  # 4 pairs x 2 orders; the refused prompt and the unreadable reply asked once each
        assert first["n"] == 2 and first["invalid"] == 2 and first["ties"] == 2  # "always A" flips with the order
        assert first["invalid_reasons"] == {PROMPT_TOO_LONG: 1, UNPARSEABLE_REPLY: 1}
        assert main(args) == 0
        again = json.loads(capsys.readouterr().out)
        assert server.count == 8 and again["requests"] == 0 and again["invalid_reasons"] == first["invalid_reasons"]
    stored = Store(db).judgments()
    too_long = stored[stored["extra"].map(lambda e: (e or {}).get("invalid_reason") == PROMPT_TOO_LONG)]
    assert (
        len(too_long) == 2
        and not too_long["valid"].astype(bool).any()
        and "maximum context length" in too_long["extra"].iloc[0]["detail"]
    )

    assert main(["stats", "summary", "--db", db, "--json", "--resamples", "50"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["pairwise"]
    assert row["n_invalid"] == 2 and row["invalid_reasons"] == first["invalid_reasons"] and row["win_rate"] == first["win_rate"]
    assert main(["stats", "summary", "--db", db, "--resamples", "50"]) == 0
    assert "prompt too long: 1, unparseable reply: 1" in capsys.readouterr().out

    from evalkit.leaderboard import snapshot as snap
    from evalkit.leaderboard import tables
    from evalkit.leaderboard.snapshot_build import build_snapshot
    from evalkit.leaderboard.store_access import results_token

    store = Store(db)
    built = build_snapshot(store, results_token(store))
    snap.save(built, tmp_path / "snapshot")
    loaded = snap.load(tmp_path / "snapshot")
    assert loaded is not None and loaded.pairwise_summary["invalid_reasons"].tolist() == [first["invalid_reasons"]]
    (judge,) = tables.judge_keys(loaded.pairwise_summary)
    base_row = tables.baselines(loaded).iloc[0]
    selection = tables.Selection(
        snap.ALL_PROMPTS, (int(base_row["baseline_id"]), base_row["baseline_decoding"]), judge, None, None
    )
    board = tables.leaderboard_rows(loaded, selection).dropna(subset=["pw_n"])
    assert board["pw_invalid"].tolist() == [2] and board["pw_invalid_reasons"].tolist() == [
        "prompt too long: 1, unparseable reply: 1"
    ]


# ---- slow: SmolLM2 as a real judge, served by `transformers serve` ----------------------------------


@pytest.fixture(scope="module")
def served_smollm2(smollm2_dir: Path) -> Iterator[ServedJudge]:
    pytest.importorskip("fastapi", reason="transformers[serving] is not installed")
    before = _children()
    with serve_judge(LocalJudgeRequest(str(smollm2_dir), server="transformers", timeout_s=300)) as served:
        assert _children() - before  # the server, a child of this process
        yield served
    assert _children() == before  # stopped with the block


PAIRS = 30


def _every_kind(store: Store, served: ServedJudge, model: tuple[int, str], base: tuple[int, str]) -> dict[str, dict[str, Any]]:
    """Each judge kind's job reports (first run and cached re-run) and summary row."""
    options = RunOptions(served=served, max_retries=0)
    local = {"judge_model": served.judge_model, "judge_fingerprint": served.fingerprint}
    jobs: dict[str, tuple[Any, Any]] = {
        "pairwise": (make_judge("pairwise", max_tokens=12, **local), None),
        "likert": (make_judge("likert", max_tokens=12, temperature=0.7, **local), 2),
        "absolute": (make_judge("absolute", max_tokens=12, **local), 1),
        "alpaca_eval": (make_judge("alpaca_eval", **local), None),
    }

    def job(judge: Any, samples: int | None) -> dict[str, Any]:
        if samples:
            return judge_single(store, judge, model, samples=samples, options=options)
        return judge_pairs(store, judge, model, base, options=options)

    out = {}
    for name, (judge, samples) in jobs.items():
        first, again = job(judge, samples), job(judge, samples)
        scorer = judge.scorer(compares=samples is None)
        key = JudgeIdentity(scorer.kind, judge.judge_model, judge.spec_hash)
        summary = summarize_store(
            store, Scope(judges=frozenset({key}), generation_sets=frozenset({GenerationSetKey(*model)})), n_resamples=50
        )
        row = summary.row(samples is None, key, GenerationSetKey(*model))
        out[name] = {"first": first, "again": again, "row": row, "judge": judge}
    return out


@pytest.mark.slow
def test_smollm2_judges_every_kind_through_a_served_checkpoint(served_smollm2: ServedJudge, tmp_path: Path) -> None:
    model_file, base_file = _pairs_files(tmp_path, PAIRS, long_answer_words=9000)  # 31 pairs; the last never fits
    store = Store(f"sqlite:///{tmp_path / 'smol.db'}")
    model = (import_model_outputs(store, model_file)[0], "")
    base = (import_model_outputs(store, base_file)[0], "")
    from evalkit.store.generation_sets import choose_decoding

    model, base = ((m, choose_decoding(store, m, "x")) for m, _ in (model, base))  # type: ignore[assignment]
    results = _every_kind(store, served_smollm2, model, base)
    report = {}
    for name, result in results.items():
        first, again, row = result["first"], result["again"], result["row"]
        asked = {"pairwise": 2 * (PAIRS + 1), "likert": 2 * (PAIRS + 1), "absolute": PAIRS + 1, "alpaca_eval": PAIRS + 1}[name]
        assert first["items"] == asked and first["errors"] == 0 and first["stored"] == asked, (name, first)
        assert again["requests"] == 0 and again["cached"] == asked, (name, again)  # the cache answers everything
        reasons = row["invalid_reasons"]
        assert set(reasons) <= REASONS, (name, reasons)
        if name == "pairwise":  # per pair: both orders combined
            assert row["n"] + row["n_invalid"] == PAIRS + 1
            assert first["requests"] == 2 * PAIRS  # both orders of every pair, the long one never sent
        elif name == "alpaca_eval":
            assert row["n"] + row["n_invalid"] == PAIRS + 1 and first["requests"] == PAIRS
        else:  # per grade: likert K=2 samples at T=0.7, absolute once
            assert row["n_samples"] + row["n_invalid"] == asked and first["requests"] == asked - asked // (PAIRS + 1)
        too_long = 2 if name == "likert" else 1  # the long answer's grades (2 samples) or its pair
        assert reasons.get(PROMPT_TOO_LONG) == too_long, (name, reasons)
        report[name] = {"asked": asked, "valid": row.get("n_samples", row["n"]), "invalid_reasons": reasons}
    judgments = store.judgments()
    assert judgments["cost_usd"].fillna(0).sum() == 0  # a local judge costs nothing
    assert (judgments["judge_model"] == served_smollm2.judge_model).all()
    print("\nSmolLM2 as a judge:", json.dumps(report))  # -s shows the figures


# ---- slow: the CLI serves its own judge, and stops it whatever happens ----------------------------


@pytest.mark.slow
def test_run_serves_the_judge_checkpoint_for_the_job_and_stops_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`evalkit run --judge-checkpoint`: a random tiny model judging (nonsense replies: every judgment
    invalid, each with its reason in run's table), the server gone at the end."""
    pytest.importorskip("fastapi", reason="transformers[serving] is not installed")
    prompts = write_prompts(tmp_path / "p.jsonl", 2)
    baseline = tmp_path / "b.json"
    rows = [json.loads(line) for line in prompts.read_text().splitlines()]
    baseline.write_text(
        json.dumps([{"instruction": r["prompt"], "output": "A baseline answer.", "generator": "b"} for r in rows])
    )
    args = [sys.executable, "-m", "evalkit", "run", "--checkpoint", str(tiny_model_dir), "--prompts", str(prompts)]
    args += ["--baseline", str(baseline), "--judges", "pairwise,likert", "--greedy", "--max-new-tokens", "4"]
    args += [
        "--judge-checkpoint",
        str(tiny_model_dir),
        "--judge-server",
        "transformers",
        "--db",
        f"sqlite:///{tmp_path / 'r.db'}",
    ]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 1, done.stderr  # done, but no valid judgment: no figure (said on stderr)
    (row,) = json.loads(done.stdout)
    assert row["invalid"] == 2 and sum(row["invalid_reasons"].values()) == 2 and set(row["invalid_reasons"]) <= REASONS
    assert row["likert_invalid"] == 2 and set(row["likert_invalid_reasons"]) <= REASONS
    assert "serving" in done.stderr and "all 2 replies were invalid" in done.stderr
    text = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)  # everything cached now
    assert "invalid_reasons" in text.stdout and next(iter(row["invalid_reasons"])) in text.stdout
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(tiny_model_dir) in " ".join(p.info["cmdline"] or [])]


def _wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_killing_evalkit_mid_job_leaves_no_judge_server(tiny_model_dir: Path, tmp_path: Path, signum: int) -> None:
    """SIGTERM unwinds evalkit like Ctrl-C (the server stopped, exit 143); SIGKILL cannot be caught, and
    the kernel's parent-death signal stops the server."""
    pytest.importorskip("fastapi", reason="transformers[serving] is not installed")
    model, base = _pairs_files(tmp_path, 40)
    args = [sys.executable, "-m", "evalkit", *_judge_args((model, base), tmp_path), "--judge-checkpoint", str(tiny_model_dir)]
    args += ["--judge-server", "transformers", "--max-tokens", "128", "--no-progress"]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        evalkit = psutil.Process(process.pid)
        assert process.stderr is not None
        line = ""
        while "serving" not in line:  # "evalkit: judge local:model: transformers serving ... on URL (up in N s)"
            line = process.stderr.readline()
            assert line, "evalkit ended before serving its judge"
        servers = evalkit.children(recursive=True)
        assert servers
        db = tmp_path / "j.db"
        _wait_for(lambda: db.exists() and Store(f"sqlite:///{db}").judgments().shape[0] > 0, 120, "a first judgment")
        process.send_signal(signum)
        code = process.wait(timeout=60)
        assert code == (143 if signum == signal.SIGTERM else -signal.SIGKILL)
        _wait_for(
            lambda: not [s for s in servers if s.is_running() and s.status() != psutil.STATUS_ZOMBIE], 30, "the server to stop"
        )
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens there any more
        stored = Store(f"sqlite:///{db}").judgments()
        assert 0 < len(stored) < 2 * 40  # stopped mid-job; what finished is kept
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ---- slow: vLLM's server as the judge (where vLLM is installed) ------------------------------------


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.skipif(not vllm_available(), reason="vLLM is not installed (make vllm)")
def test_vllm_judge_gives_logprobs_and_refuses_long_prompts(smollm2_dir: Path, tmp_path: Path) -> None:
    """vLLM's OpenAI server on SmolLM2: AlpacaEval's judge reads the "m"/"M" logprobs, and a prompt
    longer than --max-model-len sent anyway (no client-side check) comes back as a 400 that is stored
    invalid, reason "prompt too long"."""
    model_file, base_file = _pairs_files(tmp_path, 6, long_answer_words=3000)
    store = Store(f"sqlite:///{tmp_path / 'v.db'}")
    from evalkit.store.generation_sets import choose_decoding

    model, base = (
        (m, choose_decoding(store, m, "x")) for m in (import_model_outputs(store, f)[0] for f in (model_file, base_file))
    )
    request = LocalJudgeRequest(str(smollm2_dir), server="vllm", timeout_s=900, max_model_len=2048)  # a loaded CI host
    with serve_judge(request) as served:
        assert served.server == "vllm" and served.max_model_len == 2048
        local = {"judge_model": served.judge_model, "judge_fingerprint": served.fingerprint}
        alpaca = make_judge("alpaca_eval", **local)
        job = judge_pairs(store, alpaca, model, base, options=RunOptions(served=served, concurrency=4))
        assert job["errors"] == 0 and job["requests"] == 6
        pairwise = make_judge("pairwise", max_tokens=8, **local)
        unchecked = replace(served, prompt_check=None)  # let the server see the long prompt
        job = judge_pairs(store, pairwise, model, base, options=RunOptions(served=unchecked, concurrency=4, max_retries=0))
        assert job["errors"] == 0 and job["requests"] == 2 * 7
    judgments = store.judgments()
    sources = judgments[judgments["judge_kind"] == "alpaca_eval"]["extra"].map(lambda e: (e or {}).get("source"))
    assert (sources == "logprobs").sum() >= 5  # vLLM returns the first token's top logprobs
    refused = judgments[judgments["extra"].map(lambda e: (e or {}).get("invalid_reason") == PROMPT_TOO_LONG)]
    assert (
        len(refused) == 3 and "context length" in refused["extra"].iloc[-1]["detail"]
    )  # alpaca's 1 (checked), pairwise's 2 (server)


def test_judge_quality_counts_the_pairs_it_could_not_judge_by_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    humans = Path(__file__).parents[1] / "fixtures" / "data" / "judge_quality" / "pandalm_humans.json"  # 8 labelled pairs
    responder = by_content(
        [("primary colour", HTTPError(400, message=VLLM_CONTEXT_ERROR)), ("Add the numbers", Completion("Both, maybe."))],
        Completion("Answer A is significantly better."),
    )
    with FakeOpenAIServer(responder) as server:
        args = ["judge-quality", "--humans", str(humans), "--judge", "pairwise@scripted", "--judge-base-url", server.base_url]
        args += ["--max-cost", "1", "--prices", str(_zero_prices(tmp_path)), "--db", f"sqlite:///{tmp_path / 'q.db'}"]
        assert main([*args, "--json", "--resamples", "20"]) == 0
        (entry,) = json.loads(capsys.readouterr().out)["judges"]
        assert entry["n"] + entry["invalid"] == 8 and entry["invalid"] == 2
        assert entry["invalid_reasons"] == {PROMPT_TOO_LONG: 1, UNPARSEABLE_REPLY: 1}
        assert main([*args, "--resamples", "20"]) == 0
        assert "prompt too long: 1, unparseable reply: 1" in capsys.readouterr().out
    assert main(["judge-quality", "--humans", str(humans), "--judge-checkpoint", str(tmp_path)]) == 2
    assert "add --judge pairwise" in _one_error_line(capsys.readouterr().err)


def _zero_prices(directory: Path) -> Path:
    path = directory / "prices.yaml"
    path.write_text("scripted: {input: 0, output: 0}\n")
    return path


@pytest.mark.parametrize("command", ["pick", "demo"])
def test_pick_and_demo_refuse_a_missing_judge_checkpoint_before_any_work(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [command, str(tmp_path)] if command == "pick" else [command, "--out", str(tmp_path / "demo")]
    assert main([*args, "--judge-checkpoint", str(tmp_path / "missing")]) == 2
    assert "no such directory" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "demo").exists() and not list(tmp_path.glob("*.db"))
