"""Supervised fine-tuning with transformers' Trainer, one published checkpoint per epoch, resumable.

The Trainer (through accelerate) does the optimisation, gradient accumulation, DDP/FSDP2/DeepSpeed and
exact resumption; this module supplies what LIMA needs on top: masked dialogs, the EOT token, residual
dropout, and `OUT/epoch-N/` directories that other tools can load without knowing how they were trained.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from evalkit.core.errors import EvalkitError
from evalkit.train import checkpoints
from evalkit.train.arguments import is_main_process
from evalkit.train.dialogs import data_hash, load_dialogs
from evalkit.train.eot import align_model, prepare_tokenizer
from evalkit.train.recipes import LOAD_DTYPES, Recipe, load_recipe_spec, resolve
from evalkit.train.render import Skipped, encode_dialogs


@dataclass(frozen=True)
class TrainRequest:
    data: Path
    model: Path
    out: Path
    recipe: str = "lima"
    overrides: dict[str, str] = field(default_factory=dict)
    save_epochs: list[int] | None = None
    progress: bool = True


@dataclass
class TrainResult:
    out_dir: Path
    epochs: list[int]
    config_hash: str
    data_hash: str
    train_loss: float | None
    tokens_per_second: float
    seconds: float
    skipped: list[Skipped]
    resumed_from_step: int | None
    already_done: bool = False


def load_base(model_dir: Path, dtype: str = "float32") -> tuple[Any, Any]:
    """Tokenizer and model of a Hugging Face directory; fp32 by default (mixed precision is the Trainer's job)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in LOAD_DTYPES:
        raise EvalkitError(f"load_dtype {dtype!r} is not supported; use one of {', '.join(LOAD_DTYPES)}")
    if not (model_dir / "config.json").is_file():
        raise EvalkitError(f"{model_dir}: not a Hugging Face model directory (no config.json); pass --model BASE_DIR")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype))
    except (OSError, ValueError) as exc:
        raise EvalkitError(f"{model_dir}: cannot load the base model ({exc.__class__.__name__}: {exc})") from None
    return tokenizer, model


@dataclass
class Prepared:
    """Everything decided before training: model and tokenizer set up, data encoded, the run record."""

    model: Any
    tokenizer: Any
    recipe: Recipe
    pad_id: int
    encoded: list[Any]
    skipped: list[Skipped]
    run: dict[str, Any]


def prepare(request: TrainRequest) -> Prepared:
    """Load and check everything a user can get wrong, before OUT is touched."""

    spec = load_recipe_spec(request.recipe, request.overrides)
    dialogs = load_dialogs(request.data)
    tokenizer, model = load_base(request.model, str(spec.get("load_dtype", "float32")))
    recipe = resolve(spec, sum(p.numel() for p in model.parameters()))
    setup = prepare_tokenizer(tokenizer, recipe.chat_format, recipe.eot_token)
    align_model(model, tokenizer, setup)
    encoded, skipped = encode_dialogs(tokenizer, dialogs, setup.eot_token, recipe.max_length)
    if skipped and is_main_process():
        shown = ", ".join(item.source for item in skipped[:10]) + (" ..." if len(skipped) > 10 else "")
        print(
            f"evalkit train: skipping {len(skipped)} dialog(s) with no trainable token within max_length "
            f"{recipe.max_length}: {shown}",
            file=sys.stderr,
        )
    if not encoded:
        raise EvalkitError(f"{request.data}: no dialog has a trainable assistant token within max_length {recipe.max_length}")
    run = {
        "recipe": recipe.name,
        "config": recipe.as_dict(),
        "config_hash": recipe.hash(),
        "data_hash": data_hash(dialogs),
        "data": str(request.data),
        "base_model": str(request.model.resolve()),
        "eot_token": setup.eot_token,
        "dialogs": len(encoded),
        "skipped": [vars(item) for item in skipped],
        "status": "running",
    }
    return Prepared(model, tokenizer, recipe, setup.pad_id, encoded, skipped, run)


def run_training(request: TrainRequest, callbacks: list[Any] | None = None, trainer_hook: Any = None) -> TrainResult:
    """Train, writing OUT/epoch-N/ after each epoch; resume from OUT/.resume when a run was interrupted.

    `callbacks` are extra TrainerCallbacks; `trainer_hook(trainer)` runs right before training starts
    (`train --evaluate` makes its evaluator yield the CPU there; tests use both).
    """
    from evalkit.train.arguments import training_arguments, world_size
    from evalkit.train.collate import make_collator
    from evalkit.train.dropout import attach_residual_dropout

    prepared = prepare(request)
    recipe, run, out = prepared.recipe, prepared.run, request.out.resolve()
    args = training_arguments(recipe, checkpoints.resume_dir(out), world_size())
    previous = _prepare_out_dir(out, run)
    if previous is not None and previous.get("status") == "finished":
        return TrainResult(
            out,
            checkpoints.complete_epochs(out),
            run["config_hash"],
            run["data_hash"],
            previous.get("train_loss"),
            0.0,
            0.0,
            prepared.skipped,
            None,
            already_done=True,
        )

    model = prepared.model
    attach_residual_dropout(model, recipe.residual_dropout, recipe.residual_dropout_schedule)
    # A KV cache disables transformers' detection of packed sequences (their block-diagonal mask); training
    # never needs one. The exporter switches it back on for the saved config.
    model.config.use_cache = False
    exporter = EpochExporter(out, request.save_epochs or recipe.save_window(), run)
    collator = make_collator(recipe.packing, prepared.pad_id, recipe.pack_tokens)
    trainer = _build_trainer(
        model, prepared.tokenizer, args, prepared.encoded, collator, [exporter, *(callbacks or [])], request.progress
    )
    exporter.trainer = trainer
    if trainer_hook is not None:
        trainer_hook(trainer)
    resume_from = checkpoints.last_resume_checkpoint(out)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - started
    tokens = trainer.state.num_input_tokens_seen - getattr(trainer, "_initial_num_input_tokens_seen", 0)
    if is_main_process():
        run.update(status="finished", train_loss=exporter.last_loss, steps=trainer.state.global_step)
        checkpoints.write_run(out, run)
        shutil.rmtree(checkpoints.resume_dir(out), ignore_errors=True)  # optimizer state is no longer needed
    return TrainResult(
        out,
        checkpoints.complete_epochs(out),
        run["config_hash"],
        run["data_hash"],
        exporter.last_loss,
        tokens / seconds if seconds else 0.0,
        seconds,
        prepared.skipped,
        int(resume_from.name.split("-")[-1]) if resume_from else None,
    )


def _prepare_out_dir(out: Path, run: dict[str, Any]) -> dict[str, Any] | None:
    """Create OUT or check it belongs to this same run; returns the previous run record if any."""
    previous = checkpoints.read_run(out) if out.exists() else None
    if previous is None and out.exists() and any(out.glob("epoch-*")):
        raise EvalkitError(f"{out} already holds checkpoints from another tool or run; choose another --out")
    if previous is not None:
        checkpoints.check_same_run(out, previous, run)
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        checkpoints.clean_partials(out)
        if previous is None or previous.get("status") != "finished":
            checkpoints.write_run(out, run)
    return previous


def _build_trainer(
    model: Any, tokenizer: Any, args: Any, encoded: list[Any], collator: Any, callbacks: list[Any], progress: bool
) -> Any:
    from transformers import PrinterCallback, ProgressCallback, Trainer

    from evalkit.train.progress import TrainProgress

    dataset = [{"input_ids": item.input_ids, "labels": item.labels} for item in encoded]
    trainer = Trainer(
        model=model, args=args, train_dataset=dataset, data_collator=collator, processing_class=tokenizer, callbacks=callbacks
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(TrainProgress(disable=not progress))
    return trainer


class EpochExporter(TrainerCallback):
    """Publishes OUT/epoch-N/ at the end of each epoch (inside the save window), before the resume state.

    Exporting first means a crash between the two costs one re-trained epoch, never a missing checkpoint.
    """

    def __init__(self, out: Path, save_epochs: list[int] | None, run: dict[str, Any]) -> None:
        self.out, self.save_epochs, self.run = out, set(save_epochs) if save_epochs else None, run
        self.trainer: Any = None
        self.step_losses: list[float] = []
        self.last_loss: float | None = None

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.step_losses = []

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self.step_losses.append(float(logs["loss"]))

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        import math

        epoch = math.ceil(state.epoch - 1e-6)
        self.last_loss = sum(self.step_losses) / len(self.step_losses) if self.step_losses else None
        if self.save_epochs is not None and epoch not in self.save_epochs:
            return
        staging = checkpoints.partial_dir(self.out, epoch)
        config = self.trainer.model.config
        config.use_cache = True
        try:
            self.trainer.save_model(str(staging))
        finally:
            config.use_cache = False
        if state.is_world_process_zero:
            (staging / "training_args.bin").unlink(missing_ok=True)
            meta = {
                "epoch": epoch,
                "epoch_float": round(state.epoch, 6),
                "step": state.global_step,
                "train_loss": self.last_loss,
                "config_hash": self.run["config_hash"],
                "data_hash": self.run["data_hash"],
                "recipe": self.run["recipe"],
                "eot_token": self.run["eot_token"],
                "tokens_seen": state.num_input_tokens_seen,
            }
            checkpoints.finish_epoch_dir(self.out, epoch, meta)
