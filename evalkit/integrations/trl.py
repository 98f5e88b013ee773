"""`EvalkitCallback`: evalkit's evaluation while training, for a TRL `SFTTrainer` (or any transformers
`Trainer`) people run themselves.

At each save the checkpoint TRL just wrote (`OUTPUT_DIR/checkpoint-STEP/`) is handed to the same
background evaluator `evalkit train --evaluate` uses (evalkit.jobs.train_evaluation), which registers it
in the store and runs `evalkit run`'s evaluation on it; at the end of training the callback waits for the
evaluator and keeps the outcomes in `results`. Keep `save_total_limit` unset (or generous): a checkpoint
rotated away before its turn is reported as failed, not evaluated.

    trainer = SFTTrainer(..., callbacks=[EvalkitCallback(prompts="dev", judges=["reference"],
                                                         baseline="base-model", db="sqlite:///evalkit.db")])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from evalkit.core.errors import EvalkitError
from evalkit.core.settings import db_url as resolve_db_url
from evalkit.jobs.evaluation import RunConfig
from evalkit.jobs.run import check_run_request
from evalkit.jobs.train_evaluation import CheckpointEvaluator, CheckpointJob, EvaluatedCheckpoint

CHECKPOINT_PREFIX = "checkpoint"  # transformers' PREFIX_CHECKPOINT_DIR: OUTPUT_DIR/checkpoint-STEP
WAIT_SECONDS = 3600.0
# RunConfig fields a caller may set; the rest are the evaluator's own
RUN_OPTIONS = frozenset(f.name for f in fields(RunConfig)) - {"prompts", "judges", "epochs", "progress", "served_judge"}


class EvalkitCallback(TrainerCallback):
    """Evaluate every checkpoint the trainer saves, in a background process, into the store at `db`.

    `prompts`, `judges` and `**run_options` (RunConfig fields: baseline, decoding, backend, judge_model,
    likert_samples, ...) mean what they mean to `evalkit run`; the request is checked here, before
    training starts. `timeout`: how long the end of training waits for the last checkpoints."""

    def __init__(
        self,
        prompts: str = "dev",
        judges: Sequence[str] | None = None,
        db: str | None = None,
        *,
        timeout: float = WAIT_SECONDS,
        **run_options: Any,
    ) -> None:
        unknown = sorted(set(run_options) - RUN_OPTIONS)
        if unknown:
            raise EvalkitError(f"EvalkitCallback: unknown option(s) {', '.join(unknown)}; use {', '.join(sorted(RUN_OPTIONS))}")
        self.config = RunConfig(prompts=prompts, judges=tuple(judges) if judges else None, progress=False, **run_options)
        self.db_url = resolve_db_url(db)
        self.timeout = timeout
        check_run_request(self.config, self.db_url, local=False)
        self.evaluator = CheckpointEvaluator(self.config, self.db_url)
        self.results: tuple[EvaluatedCheckpoint, ...] = ()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        checkpoint_root(args)  # refused before the first step, not at the first save
        if state.is_world_process_zero:
            self.evaluator.start()  # its imports overlap the first steps

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:  # one evaluator per training, whatever the number of ranks
            return
        folder = checkpoint_root(args) / f"{CHECKPOINT_PREFIX}-{state.global_step}"
        if not (folder / "config.json").is_file():
            raise EvalkitError(f"EvalkitCallback: the trainer saved no model at {folder}")
        self.evaluator.submit(CheckpointJob(str(folder.resolve())))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self.results = self.evaluator.finish(self.timeout)


def checkpoint_root(args: Any) -> Path:
    """The folder the trainer saves checkpoints in; a trainer without one has nothing to evaluate."""
    output_dir = getattr(args, "output_dir", None)
    if not output_dir:
        raise EvalkitError(
            "EvalkitCallback needs the trainer's output_dir (TrainingArguments/SFTConfig(output_dir=...)): "
            "it evaluates the checkpoints saved there"
        )
    return Path(output_dir)
