"""Checks before work: flag ranges at parse time, judges built and their endpoint probed, judge jobs'
failures named, left-out preference rows counted, generation progress that moves."""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from evalkit.cli.commands.common import non_negative_float, non_negative_int, positive_float, positive_int, probability
from evalkit.core.errors import EvalkitError
from evalkit.generate.server import free_port
from evalkit.jobs.preflight import check_judges
from evalkit.judges.job_failures import job_failures
from tests.fixtures.fake_openai_server import FakeOpenAIServer


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (positive_int, ["1", "64"], ["0", "-3", "1.5", "x"]),
        (non_negative_int, ["0", "5"], ["-1", "two"]),
        (positive_float, ["0.01", "3"], ["0", "-1", "nan", "inf", "x"]),
        (non_negative_float, ["0", "0.7"], ["-1", "-0.001", "nan"]),
        (probability, ["1", "0.9", "1e-9"], ["0", "2", "-0.5", "nan"]),
    ],
)
def test_flag_ranges(check: Any, good: list[str], bad: list[str]) -> None:
    assert [check(text) for text in good] == [float(text) for text in good]
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            check(text)


def test_unknown_judge_and_offline_judge_need_no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EvalkitError, match="unknown judge 'bogus'"):
        check_judges(["reference", "bogus"], None, None)
    check_judges(["reference"], None, "http://127.0.0.1:9/v1")  # nothing to probe: no request, no error


def test_unreachable_endpoint_fails_in_seconds() -> None:
    began = time.perf_counter()
    with pytest.raises(EvalkitError, match="cannot reach judge endpoint"):
        check_judges(["pairwise", "likert"], "m", f"http://127.0.0.1:{free_port()}/v1")
    assert time.perf_counter() - began < 10


def test_live_endpoint_passes_without_a_counted_request() -> None:
    with FakeOpenAIServer() as server:
        check_judges(["pairwise", "likert"], "fake-judge", server.base_url)
        assert server.count == 0  # GET /models: a re-run of finished work still sends no judge request


class _Rejecting(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"error": {"message": "Incorrect API key provided: sk-te***", "code": "invalid_api_key"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return None


def test_rejected_key_is_named_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rejecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(EvalkitError) as error:
            check_judges(["likert"], "m", f"http://127.0.0.1:{server.server_address[1]}/v1")
    finally:
        server.shutdown()
        server.server_close()
    assert "rejected the API key (401)" in str(error.value) and "sk-test-secret" not in str(error.value)


def test_job_failures_name_each_failure() -> None:
    base = {"judge": "likert", "label": "likert", "judge_model": "m", "errors": 0, "budget_stopped": False}
    # `n`: valid results and `n_invalid`: unreadable replies, as the results layer reports them.
    assert job_failures({**base, "n": 3, "n_invalid": 1}) == []
    all_invalid = job_failures({**base, "n": 0, "n_invalid": 6, "mean": float("nan")})
    assert len(all_invalid) == 1 and "all 6 replies were invalid" in all_invalid[0]
    pairwise = {**base, "n": 0, "n_invalid": 4, "errors": 2, "first_error": "HTTP 500", "budget_stopped": True, "cost_usd": 0.5}
    lines = job_failures(pairwise)
    assert len(lines) == 3 and "2 requests failed" in lines[0] and "--max-cost" in lines[1] and "invalid" in lines[2]


def test_left_out_preferences_are_counted_and_the_win_rate_is_alpaca_evals() -> None:
    from alpaca_eval.metrics import get_winrate

    from evalkit.jobs.dropped_rows import dropped_preference_lines
    from evalkit.stats.winrate import alpaca_winrate

    preferences = [1, 2, 1.5, 2, 1, 3.7, 0, None, 0.5]
    lines = dropped_preference_lines(preferences + ["x"], "a.json")
    assert lines == [
        "a.json: 2 rows with preference 3.7, 0.5 outside 0 or [1, 2] left out",
        "a.json: 2 rows without a numeric preference left out",
    ]
    assert dropped_preference_lines([1, 2, 3.7], "a.json") == ["a.json: 1 row with preference 3.7 outside [0, 2] left out"]
    ours = alpaca_winrate(preferences)
    theirs = get_winrate([{"preference": p} for p in preferences])
    assert ours["n_total"] == theirs["n_total"] == len(preferences) - 3
    assert ours["win_rate"] == pytest.approx(theirs["win_rate"])


def test_step_counter_reports_tokens_and_finished_answers() -> None:
    import torch

    from evalkit.core.records import GenerationResult
    from evalkit.generate.progress import GenerationProgress, step_counter

    steps: list[tuple[int, int]] = []
    criteria = step_counter([7], lambda tokens, finished: steps.append((tokens, finished)))
    rows = torch.tensor([[1, 2], [1, 2], [1, 2]])
    for new in ([3, 7, 3], [7, 0, 3], [0, 0, 4]):  # row 1 stops first, row 0 next, row 2 runs to the limit
        rows = torch.cat([rows, torch.tensor(new)[:, None]], dim=1)
        assert not criteria(rows, None).any()
    assert steps == [(3, 1), (2, 1), (1, 0)]
    with GenerationProgress(3, "t", enabled=True) as shown:
        for tokens, finished in steps:
            shown.on_step(tokens, finished)
        assert shown.bar.n == 2 and shown.tokens_live == 6  # two answers finished before their batch returned
        shown.on_batch([GenerationResult("h", i, "a", 2, 2, "stop", 0.1) for i in range(3)])
        assert shown.bar.n == 3 and shown.tokens_stored == 6 and shown.tokens_live == 0
