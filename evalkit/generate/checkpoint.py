"""Find checkpoints under a path, check they are loadable models, and fingerprint them.

A fingerprint is the model's identity in every cache key (a cache keyed without it — lm-eval-harness's
known bug — serves one model's answers for another). It covers the config, the weights (file sizes,
safetensors headers and sampled chunks, so it stays fast on multi-GB files) and the tokenizer with its
chat template.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.files.userfile import READ_ERRORS

EPOCH_DIR = re.compile(r"^epoch-(\d+)$")
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json", "pytorch_model.bin.index.json")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "generation_config.json",
)
CHUNK = 1 << 20


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    name: str
    epoch: int | None = None
    run: str | None = None


def _weight_files(path: Path) -> list[Path]:
    return sorted({f for pattern in WEIGHT_PATTERNS for f in path.glob(pattern)})


def validate_checkpoint(path: Path) -> None:
    """Raise one clear error naming what is missing, before any expensive load."""
    if not path.is_dir():
        raise EvalkitError(f"checkpoint {path}: not a directory")
    if not (path / "config.json").is_file():
        raise EvalkitError(f"checkpoint {path}: no config.json; is this a Hugging Face model directory?")
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except READ_ERRORS:  # nested 100,000 deep, say: no content may end in a traceback
        raise EvalkitError(f"checkpoint {path}: config.json is not valid JSON") from None
    weights = [f for f in _weight_files(path) if not f.name.endswith(".json")]
    if not weights:
        raise EvalkitError(f"checkpoint {path}: no weights (*.safetensors or pytorch_model*.bin)")
    for weight in weights:
        if weight.suffix == ".safetensors":
            _safetensors_header(weight)
    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer.model", "vocab.json")):
        raise EvalkitError(f"checkpoint {path}: no tokenizer (tokenizer.json / tokenizer.model / vocab.json)")


def _safetensors_header(path: Path) -> bytes:
    """The JSON header (tensor names, shapes, offsets); a truncated or corrupt file fails here."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        length = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
        if length <= 0 or 8 + length > size:
            raise EvalkitError(f"checkpoint {path.parent}: corrupt weights file {path.name} (bad safetensors header)")
        header = handle.read(length)
    try:
        meta = json.loads(header)
        data_end = max((int(v["data_offsets"][1]) for k, v in meta.items() if k != "__metadata__"), default=0)
    except (*READ_ERRORS, LookupError, AttributeError):  # not JSON, or JSON of another shape
        raise EvalkitError(f"checkpoint {path.parent}: corrupt weights file {path.name} (unreadable header)") from None
    if 8 + length + data_end > size:
        raise EvalkitError(f"checkpoint {path.parent}: corrupt weights file {path.name} (truncated)")
    return header


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    digest.update((path / "config.json").read_bytes())
    for weight in _weight_files(path):
        size = weight.stat().st_size
        digest.update(f"{weight.name}:{size}".encode())
        with weight.open("rb") as handle:
            for offset in sorted({0, max(0, size // 2 - CHUNK // 2), max(0, size - CHUNK)}):
                handle.seek(offset)
                digest.update(handle.read(CHUNK))
    for name in TOKENIZER_FILES:
        file = path / name
        if file.is_file():
            digest.update(name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def find_checkpoints(path: str | Path, epochs: list[int] | None = None) -> list[Checkpoint]:
    """One model directory, or a training output directory holding `epoch-N/` checkpoints."""
    root = Path(path)
    if not root.exists():
        raise EvalkitError(f"checkpoint path {root} does not exist")
    if (root / "config.json").is_file():
        return [Checkpoint(path=root, name=root.resolve().name)]
    if not root.is_dir():
        raise EvalkitError(f"checkpoint path {root} is not a directory")
    found = {}
    for child in root.iterdir():
        match = EPOCH_DIR.match(child.name)
        if match and child.is_dir():
            found[int(match.group(1))] = child
    if not found:
        raise EvalkitError(f"{root}: neither a model directory (no config.json) nor a training output with epoch-N/ checkpoints")
    wanted = sorted(found) if epochs is None else sorted(set(epochs) & set(found))
    if not wanted:
        raise EvalkitError(f"{root}: none of epochs {epochs} present (have {sorted(found)})")
    run = root.resolve().name
    return [Checkpoint(path=found[e], name=f"{run}/epoch-{e}", epoch=e, run=str(root.resolve())) for e in wanted]
