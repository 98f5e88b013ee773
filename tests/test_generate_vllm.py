"""vLLM backends. vLLM needs a CUDA GPU and is the optional `vllm` extra: without it the real runs
skip, and choosing the backend is one clear error line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import run_cli, write_prompts


@pytest.mark.skipif(shutil.which("vllm") is not None, reason="vllm is installed here")
@pytest.mark.parametrize("backend", ["vllm", "vllm-server"])
def test_vllm_backend_without_vllm_is_one_clear_line(tiny_model_dir: Path, tmp_path: Path, backend: str) -> None:
    result = run_cli(
        "generate",
        "--checkpoint",
        str(tiny_model_dir),
        "--prompts",
        str(write_prompts(tmp_path / "p.jsonl", 2)),
        "--backend",
        backend,
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "evalkit: error: vllm is not installed: pip install 'evalkit[vllm]' (needs a CUDA GPU); on CPU use --backend transformers"
    )


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["vllm", "vllm-server"])
def test_vllm_generates_and_reruns_nothing(tiny_model_dir: Path, tmp_path: Path, backend: str) -> None:
    pytest.importorskip("vllm", reason="vllm is not installed (it needs a CUDA GPU)")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    prompts, out, db = write_prompts(tmp_path / "p.jsonl", 6), tmp_path / "out.json", f"sqlite:///{tmp_path / 'x.db'}"
    args = [
        "generate",
        "--checkpoint",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--backend",
        backend,
        "--max-new-tokens",
        "16",
        "--n",
        "2",
        "--db",
        db,
        "--out",
        str(out),
    ]
    first = run_cli(*args, timeout=900)
    assert first.returncode == 0, first.stderr
    assert len(json.loads(out.read_text())) == 12
    second = run_cli(*args, timeout=900)
    assert "0 generated, 12 already stored" in second.stdout
