"""The train job (`evalkit train`): fine-tune with a recipe (train.engine.run_training), then, when
asked, pick the run's best checkpoint (evalkit.jobs.pick) — the picker found before hours of training."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError

if TYPE_CHECKING:
    from evalkit.train.engine import TrainResult


@dataclass(frozen=True)
class TrainOutcome:
    """The training run (`result`; None on a rank other than 0, which reports nothing) and, with pick,
    the pick's record."""

    result: TrainResult | None
    picked: Any = None

    def as_dict(self) -> dict[str, Any]:
        """What `evalkit train --json` prints (rank 0 only)."""
        result = self.result
        assert result is not None
        summary = {
            "out": str(result.out_dir),
            "epochs": result.epochs,
            "train_loss": result.train_loss,
            "tokens_per_second": round(result.tokens_per_second, 1),
            "seconds": round(result.seconds, 2),
            "config_hash": result.config_hash,
            "data_hash": result.data_hash,
            "skipped": len(result.skipped),
            "resumed_from_step": result.resumed_from_step,
            "already_done": result.already_done,
        }
        if self.picked is not None:
            summary["picked"] = self.picked
        return summary


def load_picker() -> ModuleType:
    """evalkit.jobs.pick, checked before training so a missing picker fails in seconds, not after hours."""
    try:
        return importlib.import_module("evalkit.jobs.pick")
    except ImportError as exc:
        if exc.name not in ("evalkit.jobs.pick", None):
            raise
        raise EvalkitError(
            "--pick needs the checkpoint picker (evalkit.jobs.pick), which this installation lacks; drop --pick"
        ) from None


def train_job(
    data: Path,
    model: Path,
    out: Path,
    *,
    recipe: str = "lima",
    epochs: int | None = None,
    save_epochs: list[int] | None = None,
    overrides: list[str] | None = None,
    progress: bool = True,
    pick: bool = False,
    db: str | None = None,
    transformers_logs: bool = False,
) -> TrainOutcome:
    """Train (an interrupted run resumes; a finished one is left as it is), then pick when asked.
    `transformers_logs`: keep transformers' own warnings and progress bars (the CLI's --verbose)."""
    picker = load_picker() if pick else None
    if epochs is not None and epochs < 1:
        raise EvalkitError("--epochs must be at least 1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    if not transformers_logs:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    from evalkit.train.engine import TrainRequest, is_main_process, run_training
    from evalkit.train.recipes import parse_overrides

    fields = parse_overrides(overrides or [])
    if epochs is not None:
        fields["epochs"] = str(epochs)
    request = TrainRequest(
        data=data, model=model, out=out, recipe=recipe, overrides=fields, save_epochs=save_epochs, progress=progress
    )
    result = run_training(request)
    if not is_main_process():
        return TrainOutcome(None)
    if picker is None:
        return TrainOutcome(result)
    from evalkit.core.settings import db_url

    return TrainOutcome(result, picker.pick_checkpoint(result.out_dir, db_url=db_url(db)))
