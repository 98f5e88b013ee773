"""`evalkit train`: fine-tune a base model with a recipe and leave OUT/epoch-N/ checkpoints to evaluate.

Runs unchanged under `torchrun` or `accelerate launch` (see train/configs/launch/); only rank 0 prints.
With --evaluate (or --pick) each checkpoint is evaluated as it lands, under `run`'s evaluation options.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.cli.commands.common import epoch_range, out_path, positive_int
from evalkit.cli.commands.run import add_run_flags, config_from_args
from evalkit.core.errors import EvalkitError
from evalkit.core.extras import require_extra

if TYPE_CHECKING:
    from evalkit.jobs.evaluation import RunConfig


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
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="evaluate every checkpoint as it lands, in a background process (run's options below apply)",
    )
    parser.add_argument(
        "--pick",
        action="store_true",
        help="evaluate the window's checkpoints as they land, then pick the best (evalkit.jobs.pick)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to stderr)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_run_flags(parser)  # --prompts, --judges, --baseline, --max-new-tokens, ..., --db
    parser.set_defaults(handler=handle)


def evaluation_from_args(args: argparse.Namespace) -> RunConfig | None:
    """`run`'s options for the checkpoints evaluated while training; None without --evaluate or --pick.
    Without a judge configured the offline judge stands in, and the user is told so in one line."""
    from evalkit.jobs.train_evaluation import offline_judge_notice

    if not (args.evaluate or args.pick):
        return None
    if args.judge_checkpoint:  # a served judge would compete with training for the same accelerator
        raise EvalkitError("--judge-checkpoint is not available while training; judge afterwards with `evalkit run`")
    # train's --epochs counts training epochs; every landed one is evaluated, so no epoch filter here
    config = replace(config_from_args(args), epochs=None, progress=False)
    notice = offline_judge_notice(config)
    if notice:
        print(notice, file=sys.stderr)
    return config


def handle(args: argparse.Namespace) -> int:
    from evalkit.jobs.train import train_job

    require_extra("train", "evalkit train")
    evaluation = evaluation_from_args(args)
    outcome = train_job(
        args.data,
        args.model,
        args.out,
        recipe=args.recipe,
        epochs=args.epochs,
        save_epochs=args.save_epochs,
        overrides=args.overrides,
        progress=not args.no_progress,
        pick=args.pick,
        evaluate=args.evaluate,
        evaluation=evaluation,
        db=args.db,
        transformers_logs=args.verbose,
    )
    result = outcome.result
    if result is None:  # not rank 0: one process reports
        return 0
    summary = outcome.as_dict()
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
        judged = [done for done in outcome.evaluated if done.error is None]
        if outcome.evaluated:
            print(f"evaluated while training: {len(judged)} of {len(outcome.evaluated)} checkpoint(s)")
        if "picked" in summary:
            print(f"picked: {summary['picked']}")
    for done in outcome.evaluated:
        if done.error:
            print(f"evalkit: evaluation of {done.label} failed: {done.error}", file=sys.stderr)
    return 0 if all(done.error is None for done in outcome.evaluated) else 1


def _span(epochs: list[int]) -> str:
    if not epochs:
        return "none"
    if len(epochs) > 1 and epochs == list(range(epochs[0], epochs[-1] + 1)):
        return f"{epochs[0]}-{epochs[-1]}"
    return ",".join(map(str, epochs))
