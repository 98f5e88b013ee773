"""The output directory's layout and what makes a checkpoint complete.

    OUT/train_run.json      the run: recipe, config hash, data hash, base model, status
    OUT/epoch-N/            a plain Hugging Face model dir + tokenizer + chat template + evalkit_train.json
    OUT/.resume/checkpoint-S/  the Trainer's full state (optimizer, scheduler, RNG) after the last finished epoch

An epoch directory appears only by an atomic rename after everything in it is written, so a reader (the
generator, the picker) never sees half a checkpoint, and a crash leaves at most a `.partial` folder that
the next run deletes. Resume state lives apart from the epoch dirs so they stay small and only the last
one is kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.files.atomic_text import write_text_atomic
from evalkit.files.fileperms import apply_umask

RUN_FILE = "train_run.json"
EPOCH_META = "evalkit_train.json"
RESUME_DIR = ".resume"


def epoch_dir(out_dir: Path, epoch: int) -> Path:
    return out_dir / f"epoch-{epoch}"


def partial_dir(out_dir: Path, epoch: int) -> Path:
    return out_dir / f"epoch-{epoch}.partial"


def resume_dir(out_dir: Path) -> Path:
    return out_dir / RESUME_DIR


def finish_epoch_dir(out_dir: Path, epoch: int, meta: dict[str, Any]) -> Path:
    """Write the epoch's metadata into its `.partial` folder (model already saved there), then publish it."""
    staging, final = partial_dir(out_dir, epoch), epoch_dir(out_dir, epoch)
    (staging / EPOCH_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    apply_umask(staging)  # safetensors writes weights 0600; a shared run folder needs them readable
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    return final


def read_epoch_meta(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / EPOCH_META).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def complete_epochs(out_dir: Path) -> list[int]:
    """Epoch numbers whose directory was published (has its metadata file)."""
    epochs = []
    for path in out_dir.glob("epoch-*"):
        suffix = path.name.removeprefix("epoch-")
        if suffix.isdigit() and read_epoch_meta(path) is not None:
            epochs.append(int(suffix))
    return sorted(epochs)


def last_resume_checkpoint(out_dir: Path) -> Path | None:
    """The newest Trainer checkpoint that finished writing (trainer_state.json is written last)."""
    candidates = []
    for path in resume_dir(out_dir).glob("checkpoint-*"):
        step = path.name.removeprefix("checkpoint-")
        if step.isdigit() and (path / "trainer_state.json").is_file():
            candidates.append((int(step), path))
    return max(candidates)[1] if candidates else None


def clean_partials(out_dir: Path) -> None:
    for path in out_dir.glob("epoch-*.partial"):
        shutil.rmtree(path, ignore_errors=True)


def read_run(out_dir: Path) -> dict[str, Any] | None:
    path = out_dir / RUN_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise EvalkitError(f"{path}: corrupt run file; delete {out_dir} or choose another --out") from None


def write_run(out_dir: Path, run: dict[str, Any]) -> None:
    write_text_atomic(out_dir / RUN_FILE, json.dumps(run, indent=2, sort_keys=True) + "\n")  # no .tmp left on failure


def check_same_run(out_dir: Path, previous: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to mix checkpoints of different trainings in one directory."""
    for key, what in (("config_hash", "recipe"), ("data_hash", "training data"), ("base_model", "base model")):
        if previous.get(key) != current.get(key):
            raise EvalkitError(f"{out_dir} holds a run with a different {what}; choose another --out or delete it to start over")
