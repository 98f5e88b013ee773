"""`evalkit run`: the whole evaluation of a checkpoint or a training run, then a summary table."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from evalkit.cli.commands.common import (
    add_db_flag,
    add_json_flag,
    add_judge_checkpoint_flags,
    add_judge_temperature_flag,
    epoch_range,
    judge_server_settings,
    positive_float,
    positive_int,
)
from evalkit.cli.commands.generate import add_backend_flags, add_decoding_flags
from evalkit.cli.commands.stopping_flags import add_stopping_flags, stopping_from_args
from evalkit.core.redaction import redact_url
from evalkit.core.rounding import MISSING, format_figure

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.jobs.evaluation import RunConfig
    from evalkit.jobs.run import RunResult


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """What `run`, `pick` and `demo` share: prompts, baseline, judges, generation and judge calls."""
    parser.add_argument("--prompts", default="dev", help="dev (built in), a JSON/JSONL file, or hf:NAME")
    parser.add_argument(
        "--baseline",
        default=None,
        help="model_outputs.json or a model name in the store (default: the prompt set's reference answers)",
    )
    parser.add_argument(
        "--judges",
        default=None,
        help="comma-separated: pairwise,likert,alpaca_eval,reference,SPEC.yaml "
        "(default: pairwise,likert with a judge endpoint, else reference)",
    )
    judge = parser.add_argument_group("judge calls")
    judge.add_argument("--judge-model", default=None, help="judge model name (env EVALKIT_JUDGE_MODEL)")
    judge.add_argument("--judge-base-url", default=None, help="OpenAI-compatible judge endpoint (env OPENAI_BASE_URL)")
    add_judge_checkpoint_flags(judge)
    judge.add_argument("--judge-concurrency", type=positive_int, default=16)
    judge.add_argument(
        "--likert-samples",
        type=positive_int,
        default=1,
        help="grades per answer (LIMA: 5); more than one samples the judge at --judge-temperature",
    )
    add_judge_temperature_flag(judge)
    judge.add_argument("--max-cost", type=positive_float, default=None, help="USD budget for judge calls in this invocation")
    add_db_flag(parser)
    add_decoding_flags(parser)
    add_backend_flags(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="generate, judge and score checkpoints end to end",
        description="Generate -> judge -> statistics -> store. A training output defaults to epochs 5-10.",
    )
    parser.add_argument("--checkpoint", required=True, help="a model directory or a training output with epoch-N/ dirs")
    parser.add_argument("--epochs", type=epoch_range, default=None, help="which epochs of a training output (default 5-10)")
    add_run_flags(parser)
    add_stopping_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    from evalkit.cli.commands.generate import backend_options_from_args, decoding_from_args
    from evalkit.jobs.evaluation import RunConfig

    judges = tuple(j.strip() for j in args.judges.split(",") if j.strip()) if args.judges else None
    return RunConfig(
        prompts=args.prompts,
        baseline=args.baseline,
        judges=judges,
        epochs=getattr(args, "epochs", None),
        decoding=decoding_from_args(args),
        backend=backend_options_from_args(args),
        judge_model=args.judge_model,
        judge_temperature=args.judge_temperature,
        judge_options={"concurrency": args.judge_concurrency, "max_cost": args.max_cost, "base_url": args.judge_base_url},
        likert_samples=args.likert_samples,
        progress=not getattr(args, "json", False),
        stopping=stopping_from_args(args),
    )


def run(args: argparse.Namespace) -> int:
    from evalkit.jobs.run import evaluate_run

    config = config_from_args(args)  # every flag checked before the store is opened (or created)
    result = evaluate_run(args.checkpoint, config, db=args.db, server=judge_server_settings(args))
    if args.json:
        print(json.dumps(result.records()))
    else:
        print_run_table(result)
        for stop in result.report.stops:
            print(f"stopped judging {stop.line()}")
    for line in result.failures:
        print(f"evalkit: {line}", file=sys.stderr)
    return 0 if result.ok else 1


def with_lc_cell(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The run table with its length-controlled figures as one `lc` cell ("41.30 ± 3.10", "withheld"),
    and the lines that go under the table: the GLM variant, and why a figure is withheld."""
    from evalkit.stats.length_controlled import LC_FIELDS, cell, variant_name

    if "lc_variant" not in table:
        return table, []
    rows = table.to_dict(orient="records")
    shown = table.drop(columns=list(LC_FIELDS)).assign(lc=[cell(row) for row in rows])
    variants = sorted({variant_name(str(row["lc_variant"])) for row in rows if row.get("lc_variant")})
    notes = [f"lc: length-controlled win rate ± standard error ({'; '.join(variants)})"] if variants else []
    notes += [f"lc withheld for {row['checkpoint']}: {row['lc_withheld']}" for row in rows if row.get("lc_withheld")]
    return shown, notes


def print_run_table(result: RunResult) -> None:
    from evalkit.core.decoding_labels import decoding_label
    from evalkit.core.vocabulary import format_reasons

    report, table, decoding = result.report, result.table, result.config.decoding
    judges = ", ".join(f"{j.kind} ({j.judge_model}, spec {j.spec_hash[:8]})" for j in report.judges)
    print(
        f"\nprompt set {report.prompt_set.name} ({len(report.prompt_set.prompts)} prompts), baseline {report.baseline_name}, "
        f"judges {judges}, decoding {decoding_label(decoding.as_dict())} ({decoding.hash[:12]})"
    )
    shown = table.assign(decoding=table["decoding"].str[:12])
    for column in ("invalid_reasons", "likert_invalid_reasons"):
        if column in shown:
            shown[column] = shown[column].map(format_reasons)
    if "n_humans" in shown:  # a count, though a checkpoint without human labels makes the column float
        shown["n_humans"] = shown["n_humans"].map(lambda n: format_figure(n, 0))
    shown, notes = with_lc_cell(shown)
    print(shown.to_string(index=False, float_format=lambda v: format_figure(v, 2), na_rep=MISSING))
    for note in notes:
        print(note)
    if "combined" in table:
        print("combined: human + judge (PPI++) win rate with its 95% interval, from n_humans human-labelled prompts")
    print(f"\nbrowse: evalkit leaderboard --db {redact_url(result.db_url)}")
