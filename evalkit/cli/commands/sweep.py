"""`evalkit sweep`: a grid of data recipes (sources x sizes x ability proportions), each trained with one
recipe and evaluated with `run` on the same prompts and judges; the best cell and its significance
against the runner-up are printed and recorded in the store. Re-running skips every finished cell."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

from evalkit.cli.commands.common import add_json_flag, out_path
from evalkit.cli.commands.run import add_run_flags
from evalkit.core.errors import EvalkitError
from evalkit.core.extras import require_extra
from evalkit.core.rounding import format_figure


def _sizes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of sizes: {text!r} (use e.g. 2000,4000,8000)") from None
    if not values:
        raise argparse.ArgumentTypeError("no sizes given")
    return values


def _num(value: float | None, digits: int = 2, sign: bool = False) -> str:
    """A number of the JSON result, rounded as every surface rounds; null where it could not be
    computed (e.g. no valid judgment)."""

    return format_figure(value, digits, sign=sign, missing="n/a")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="train and evaluate a grid of data recipes; report the best with its significance",
        description="LIMA Figures 5-6 and Yi's mixture grid: for every source x size (x ability proportion) cell, "
        "sample the data, train, evaluate with `run` and record it. Finished cells are skipped on a re-run.",
    )
    parser.add_argument("--data", required=True, nargs="+", type=Path, help="one dialog JSONL file per source (named by file)")
    parser.add_argument(
        "--sizes", required=True, type=_sizes, help="examples per cell, e.g. 2000,4000,8000 (tag-balanced samples)"
    )
    parser.add_argument(
        "--proportions", default=None, help="also vary each ability's share: 'yi' (1,1/2,...,1/64) or fractions like 1,1/4,1/16"
    )
    parser.add_argument("--ability-field", default="category", help="the row key naming a dialog's ability (default category)")
    parser.add_argument("--model", required=True, type=Path, help="base model: a Hugging Face model directory")
    parser.add_argument("--recipe", default="lima", help="training recipe (lima, yi, qwen, demo) or a YAML file")
    parser.add_argument(
        "--epochs", type=int, default=None, help="training epochs (overrides the recipe); the last one is evaluated"
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE", help="override a recipe field"
    )
    parser.add_argument("--out", required=True, type=out_path, help="folder for the cells' data files and training runs")
    parser.add_argument("--name", default=None, help="the sweep's name in the store (default: the --out folder's name)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the cells' samples")
    parser.add_argument("--no-progress", action="store_true")
    add_run_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from evalkit.cli.commands.run import config_from_args
    from evalkit.datarecipes.grid import parse_proportions

    if args.epochs is not None and args.epochs < 1:
        raise EvalkitError("--epochs must be at least 1")
    require_extra("train", "evalkit sweep")
    proportions = parse_proportions(args.proportions)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    from evalkit.datarecipes.sweep import SweepRequest
    from evalkit.jobs.sweep import sweep
    from evalkit.train.recipes import parse_overrides

    if not args.verbose:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    run_args = argparse.Namespace(**{**vars(args), "epochs": None})  # --epochs here means training epochs
    config = replace(config_from_args(run_args), progress=not (args.json or args.no_progress))
    request = SweepRequest(
        data=args.data,
        sizes=args.sizes,
        model=args.model,
        out=args.out,
        recipe=args.recipe,
        epochs=args.epochs,
        overrides=parse_overrides(args.overrides),
        proportions=proportions,
        ability_field=args.ability_field,
        seed=args.sample_seed,
        name=args.name,
        config=config,
        progress=not args.no_progress,
    )
    result = sweep(request, db=args.db).as_dict()
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"sweep {result['sweep'][:12]}: {len(result['cells'])} cells")
    for cell in result["cells"]:
        done = "" if cell["trained"] else "  (already trained)"
        print(
            f"  {cell['name']:<40} n={cell['n_examples']:<6} win rate {_num(cell['win_rate'])} "
            f"[{_num(cell['ci_low'])}, {_num(cell['ci_high'])}]{done}"
        )
    best, versus = result["best"], result["best"]["vs_runner_up"]
    print(f"best: {best['name']} ({best['checkpoint']}), win rate {_num(best['win_rate'])}")
    if versus:
        verdict = "significant" if versus["significant"] else "not significant"
        print(
            f"  vs runner-up {versus['runner_up']}: difference {_num(versus['difference'], sign=True)} points, 95% CI "
            f"[{_num(versus['ci_low'])}, {_num(versus['ci_high'])}], p = {_num(versus['p_value'], 3)} ({verdict})"
        )
    return 0
