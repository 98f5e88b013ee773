"""`evalkit train`: fine-tune a base model with a recipe and leave OUT/epoch-N/ checkpoints to evaluate.

Runs unchanged under `torchrun` or `accelerate launch` (see train/configs/launch/); only rank 0 prints.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from pathlib import Path
from types import ModuleType

from evalkit.commands.common import add_db_flag, epoch_range, out_path, positive_int
from evalkit.errors import EvalkitError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a base model (LIMA recipe by default), one checkpoint per epoch",
        description="Supervised fine-tuning on a JSONL dialog set; writes OUT/epoch-N/ Hugging Face checkpoints. "
        "Re-running the same command resumes an interrupted run from its last finished epoch.",
    )
    parser.add_argument("--recipe", default="lima", help="built-in recipe (lima, yi, qwen, demo) or a YAML file (default lima)")
    parser.add_argument("--data", required=True, type=Path, help='JSONL file of dialogs: one {"messages": [...]} per line')
    parser.add_argument("--model", required=True, type=Path, help="base model: a Hugging Face model directory")
    parser.add_argument("--out", required=True, type=out_path, help="output directory for epoch-N/ checkpoints")
    parser.add_argument("--epochs", type=positive_int, default=None, help="number of epochs (overrides the recipe)")
    parser.add_argument(
        "--save-epochs",
        type=epoch_range,
        default=None,
        metavar="RANGE",
        help="write checkpoints only for these epochs, e.g. 5-10 (default: every epoch)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any recipe field, e.g. --set learning_rate=1e-3 (repeatable)",
    )
    parser.add_argument("--pick", action="store_true", help="after training, pick the best checkpoint (evalkit.pick)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to stderr)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_db_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    picker = _load_picker() if args.pick else None
    if args.epochs is not None and args.epochs < 1:
        raise EvalkitError("--epochs must be at least 1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    from evalkit.train.engine import TrainRequest, is_main_process, run_training
    from evalkit.train.recipes import parse_overrides

    if not args.verbose:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    overrides = parse_overrides(args.overrides)
    if args.epochs is not None:
        overrides["epochs"] = str(args.epochs)
    request = TrainRequest(
        data=args.data,
        model=args.model,
        out=args.out,
        recipe=args.recipe,
        overrides=overrides,
        save_epochs=args.save_epochs,
        progress=not args.no_progress,
    )
    result = run_training(request)
    if not is_main_process():
        return 0
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
    if picker is not None:
        from evalkit.settings import db_url

        summary["picked"] = picker.pick_checkpoint(result.out_dir, db_url=db_url(args.db))
    if args.json:
        print(json.dumps(summary, default=str))
    elif result.already_done:
        print(f"{result.out_dir}: already trained (epochs {_span(result.epochs)}); nothing to do")
    else:
        loss = "n/a" if result.train_loss is None else f"{result.train_loss:.4f}"
        print(
            f"trained {result.out_dir}: epochs {_span(result.epochs)}, last-epoch loss {loss}, "
            f"{result.tokens_per_second:,.0f} tokens/s, {result.seconds:.1f}s"
        )
        if "picked" in summary:
            print(f"picked: {summary['picked']}")
    return 0


def _load_picker() -> ModuleType:
    """evalkit.pick, checked before training so a missing picker fails in seconds, not after hours."""
    try:
        return importlib.import_module("evalkit.pick")
    except ImportError as exc:
        if exc.name not in ("evalkit.pick", None):
            raise
        raise EvalkitError(
            "--pick needs the checkpoint picker (evalkit.pick), which this installation lacks; drop --pick"
        ) from None


def _span(epochs: list[int]) -> str:
    if not epochs:
        return "none"
    if len(epochs) > 1 and epochs == list(range(epochs[0], epochs[-1] + 1)):
        return f"{epochs[0]}-{epochs[-1]}"
    return ",".join(map(str, epochs))
