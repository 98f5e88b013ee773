"""The train job (`evalkit train`): fine-tune with a recipe (train.engine.run_training), evaluating each
checkpoint as it lands when asked (jobs.train_evaluation: a child process, so training keeps its pace),
then, when asked, pick the run's best checkpoint (evalkit.jobs.pick) — the picker found and the judges
checked before hours of training."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError
from evalkit.core.settings import db_url as resolve_db_url
from evalkit.generate.factory import BackendOptions
from evalkit.jobs.evaluation import DEFAULT_WINDOW, RunConfig
from evalkit.jobs.run import check_run_request
from evalkit.jobs.train_evaluation import CheckpointEvaluator, EpochWatcher, EvaluatedCheckpoint, TrainingAhead
from evalkit.train.arguments import is_main_process

if TYPE_CHECKING:
    from evalkit.train.engine import TrainResult


@dataclass(frozen=True)
class TrainOutcome:
    """The training run (`result`; None on a rank other than 0, which reports nothing), the checkpoints
    evaluated while it trained (with --evaluate or --pick) and, with pick, the pick's record."""

    result: TrainResult | None
    picked: Any = None
    evaluated: tuple[EvaluatedCheckpoint, ...] = ()

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
        if self.evaluated:
            summary["evaluated"] = [done.as_dict() for done in self.evaluated]
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
    evaluate: bool = False,
    evaluation: RunConfig | None = None,
    db: str | None = None,
    transformers_logs: bool = False,
) -> TrainOutcome:
    """Train (an interrupted run resumes; a finished one is left as it is), then pick when asked.
    `evaluate`: evaluate every epoch as it lands under `evaluation` (`run`'s options); `pick` alone
    evaluates the epochs of the pick's window as they land, then picks under the same options.
    `transformers_logs`: keep transformers' own warnings and progress bars (the CLI's --verbose)."""
    picker = load_picker() if pick else None
    config = evaluation or RunConfig(progress=progress)
    url = resolve_db_url(db)
    if pick or evaluate:
        check_run_request(config, url, local=False)
    if epochs is not None and epochs < 1:
        raise EvalkitError("--epochs must be at least 1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Started before this process imports torch and transformers: the evaluator's own imports and shared
    # work (prompts, judges, the baseline's answers) run on the core those imports leave idle.
    watcher = _start_evaluating(out, model, config, url, pick=pick, evaluate=evaluate)
    try:
        from transformers.utils import logging as hf_logging

        if not transformers_logs:
            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
        from evalkit.train.engine import TrainRequest, run_training
        from evalkit.train.recipes import parse_overrides

        fields = parse_overrides(overrides or [])
        if epochs is not None:
            fields["epochs"] = str(epochs)
        request = TrainRequest(
            data=data, model=model, out=out, recipe=recipe, overrides=fields, save_epochs=save_epochs, progress=progress
        )
        # The evaluator yields the CPU only once the trainer is built, so loading and tokenizing (one core)
        # leave the other to its shared work.
        result = run_training(request, trainer_hook=None if watcher is None else lambda _: watcher.training_starts())
    except BaseException:
        if watcher is not None:
            watcher.stop()
        raise
    if not is_main_process():
        return TrainOutcome(None)
    evaluated = watcher.finish(helps=generates_on_cpu(config.backend)) if watcher is not None else ()
    if picker is None:
        return TrainOutcome(result, evaluated=evaluated)
    return TrainOutcome(result, picker.pick_checkpoint(result.out_dir, db_url=url, config=config), evaluated)


def _start_evaluating(
    out: Path, base_model: Path, config: RunConfig, url: str, *, pick: bool, evaluate: bool
) -> EpochWatcher | None:
    """The evaluator of this run's epochs (--evaluate: every one; --pick: the window's), on rank 0 only."""
    if not (pick or evaluate) or not is_main_process():
        return None
    ahead = TrainingAhead(str(out.resolve()), str(base_model.resolve()))  # resolved as train/ records them
    watcher = EpochWatcher(out, CheckpointEvaluator(config, url, ahead=ahead), None if evaluate else set(DEFAULT_WINDOW))
    watcher.start()
    return watcher


def generates_on_cpu(backend: BackendOptions) -> bool:
    """Whether checkpoints generate on this machine's CPU (the transformers backend without a GPU): then the
    trainer's process, idle once training ends, evaluates beside the evaluator. Never with a vLLM engine
    or a GPU: a second engine or model copy would compete for the device's memory."""
    if backend.backend != "transformers" or backend.workers is not None:
        return False
    if backend.device is not None:
        return backend.device == "cpu"
    import torch

    return not torch.cuda.is_available()
