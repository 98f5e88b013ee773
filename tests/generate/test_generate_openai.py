"""The openai backend against a real OpenAI-compatible server: `transformers serve` on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.generate.server import ManagedServer, free_port, transformers_serve_command
from tests.helpers import run_cli, write_prompts


@pytest.fixture(scope="module")
def served_tiny_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("fastapi", reason="transformers[serving] is not installed")
    port = free_port()
    # /v1/models scans the hub cache, which must exist even though nothing is downloaded.
    hub_cache = tmp_path_factory.mktemp("hub")
    env = {"HF_HUB_CACHE": str(hub_cache), "HF_HUB_OFFLINE": "1"}
    with ManagedServer(transformers_serve_command(str(tiny_model_dir), port), port, startup_timeout_s=120, env=env) as server:
        yield server


@pytest.mark.slow
def test_generate_through_transformers_serve(served_tiny_model: ManagedServer, tiny_model_dir: Path, tmp_path: Path) -> None:
    prompts, out, db = write_prompts(tmp_path / "p.jsonl", 4), tmp_path / "out.json", f"sqlite:///{tmp_path / 'x.db'}"
    args = [
        "generate",
        "--backend",
        "openai",
        "--base-url",
        served_tiny_model.base_url,
        "--checkpoint",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--greedy",
        "--max-new-tokens",
        "8",
        "--concurrency",
        "2",
        "--db",
        db,
        "--out",
        str(out),
    ]
    first = run_cli(*args, env={"OPENAI_API_KEY": "sk-test-secret-123"})
    assert first.returncode == 0, first.stderr
    rows = json.loads(out.read_text())
    assert len(rows) == 4 and all(isinstance(r["output"], str) for r in rows)
    second = run_cli(*args)
    assert "0 generated, 4 already stored" in second.stdout
    assert b"sk-test-secret-123" not in (tmp_path / "x.db").read_bytes()


@pytest.mark.slow  # a child process (imports torch and transformers)
def test_unreachable_server_is_one_clear_line(tiny_model_dir: Path, tmp_path: Path) -> None:
    result = run_cli(
        "generate",
        "--backend",
        "openai",
        "--base-url",
        f"http://127.0.0.1:{free_port()}/v1",
        "--checkpoint",
        "some-remote-model",
        "--prompts",
        str(write_prompts(tmp_path / "p.jsonl", 2)),
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        env={"OPENAI_API_KEY": "sk-test-secret-123"},
        timeout=120,
    )
    assert result.returncode == 2
    assert "cannot reach server" in result.stderr and "sk-test-secret-123" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("evalkit: error: cannot reach server")
