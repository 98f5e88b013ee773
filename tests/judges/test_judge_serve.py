"""The judges against a real OpenAI-compatible server: `transformers serve` on the tiny random model.

Its replies are nonsense, so every verdict must end invalid (re-asked, stored with its raw text,
counted), never a crash and never a tie.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit.cli.main import main
from evalkit.generate.server import free_port, transformers_serve_command
from evalkit.store import Store


@pytest.fixture(scope="module")
def served_tiny_judge(tiny_model_dir: Path) -> Iterator[str]:
    pytest.importorskip("fastapi", reason="transformers[serving] is not installed")
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(transformers_serve_command(str(tiny_model_dir), port), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:  # /health, not /v1/models: listing models scans the HF cache, absent offline
                assert process.poll() is None and time.monotonic() < deadline, "transformers serve did not start"
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                        break
                except (urllib.error.URLError, OSError):
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.slow
def test_nonsense_from_a_real_server_ends_invalid(
    served_tiny_judge: str,
    tiny_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    questions = ["Write a short poem about the sea.", "What is the capital of France?"]
    model, baseline = tmp_path / "M.json", tmp_path / "R.json"
    model.write_text(json.dumps([{"instruction": q, "output": f"Answer {i}", "generator": "m"} for i, q in enumerate(questions)]))
    baseline.write_text(
        json.dumps([{"instruction": q, "output": f"Other {i}", "generator": "b"} for i, q in enumerate(questions)])
    )
    db = f"sqlite:///{tmp_path / 'x.db'}"
    common = [
        "--judge-base-url",
        served_tiny_judge,
        "--judge-model",
        str(tiny_model_dir),
        "--max-retries",
        "1",
        "--concurrency",
        "2",
        "--db",
        db,
        "--json",
    ]
    runs = {
        "pairwise": ["--judge", "pairwise", "--outputs", str(model), "--baseline", str(baseline), "--max-tokens", "8"],
        "likert": ["--judge", "likert", "--outputs", str(model), "--max-tokens", "8"],
        "alpaca_eval": ["--judge", "alpaca_eval", "--outputs", str(model), "--baseline", str(baseline)],
    }
    for name, args in runs.items():
        # Every reply unreadable: the job is done but no figure can be computed, so exit code 1 (said on stderr).
        assert main(["judge", *args, *common]) == 1, name
        summary = json.loads(capsys.readouterr().out)
        assert summary["invalid"] == 2 and summary["errors"] == 0, (name, summary)
        if name == "pairwise":
            assert summary["ties"] == 0 and summary["requests"] == 2 * 2 * 2  # 2 pairs x 2 orders x (1 + 1 re-ask)
    stored = Store(db).judgments()
    assert len(stored) == 2 * 2 + 2 + 2 and not stored["valid"].astype(bool).any()
    assert (stored[stored["judge_kind"] != "alpaca_eval"]["attempts"] == 2).all() and stored["raw"].notna().all()
