"""`evalkit judge-quality`: how far each judge agrees with humans, its biases and its price, next to
how far the humans agree with each other (the ceiling)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from evalkit.cli.commands.common import (
    add_db_flag,
    add_json_flag,
    add_judge_budget_flags,
    add_judge_call_flags,
    judge_server_settings,
)

if TYPE_CHECKING:
    from evalkit.jobs.judge_quality import JudgeQualityRequest

FORMAT_HELP = (
    "alpaca_eval (instruction, output_1, output_2, preference 1/2/1.5, annotator_index) | pandalm (idx, "
    "instruction, input, response1, response2, annotator1..N: 0 tie, 1, 2) | mtbench (question_id, model_a, "
    "model_b, winner, judge, turn, conversation_a/b) | labels (item, rater, label A/B/tie)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "judge-quality",
        help="judge the judges: agreement with humans, biases, consistency, cost",
        description="Score judges against human labels: each judge against the mode of the humans (tie-discounted "
        "accuracy, agreement with and without ties, Cohen's kappa, 95% bootstrap intervals over items), "
        "the humans against each other (the ceiling), P(prefer first), P(prefer longer), position and "
        "self-consistency, cost and seconds per 1,000 judgments. Formats: " + FORMAT_HELP,
    )
    source = parser.add_argument_group("human labels")
    source.add_argument("--humans", help="file of human-labelled pairs (default: the store's annotation batches, --db)")
    source.add_argument(
        "--format",
        choices=("alpaca_eval", "pandalm", "mtbench", "labels"),
        default=None,
        help="layout of --humans (default: detected from its first row)",
    )
    source.add_argument("--batch", help="without --humans: only this annotation batch of the store")
    judges = parser.add_argument_group("judges")
    judges.add_argument(
        "--judge-labels",
        action="append",
        default=[],
        metavar="FILE",
        help="a judge's ready-made verdicts on the same pairs (any of the formats; repeatable)",
    )
    judges.add_argument(
        "--judge",
        action="append",
        default=[],
        metavar="NAME[@MODEL]",
        help="run a judge on the pairs: pairwise | alpaca_eval | SPEC.yaml, optionally @model (repeatable)",
    )
    judges.add_argument("--judge-model", default=None, help="model of --judge entries without @MODEL (env EVALKIT_JUDGE_MODEL)")
    add_judge_call_flags(judges, samples_help="ask each judge K times per pair and order (self-consistency)")
    add_judge_budget_flags(judges)
    judges.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar on stderr")
    stats = parser.add_argument_group("statistics and output")
    stats.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples over items (default 10000; 0: none)")
    stats.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    stats.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    stats.add_argument("--save", metavar="NAME", help="keep the report in the store under NAME (the leaderboard's Judges page)")
    add_db_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def request_from_args(args: argparse.Namespace) -> JudgeQualityRequest:
    from evalkit.jobs.judge_quality import JudgeQualityRequest

    return JudgeQualityRequest(
        humans=args.humans,
        format=args.format,
        batch=args.batch,
        judge_labels=tuple(args.judge_labels),
        judges=tuple(args.judge),
        progress=args.progress,
        resamples=args.resamples,
        level=args.level,
        seed=args.seed,
        save=args.save,
        **judge_call_fields(args),
    )


def judge_call_fields(args: argparse.Namespace) -> dict[str, Any]:
    """How the judges are reached and asked (the flags of add_judge_call_flags, add_judge_budget_flags,
    --judge-model and --db), as JudgeQualityRequest fields: `judge-quality` and `stats combined` run
    judges through the same request."""
    return {
        "judge_model": args.judge_model,
        "judge_base_url": args.judge_base_url,
        "samples": args.samples,
        "judge_temperature": args.judge_temperature,
        "max_tokens": args.max_tokens,
        "concurrency": args.concurrency,
        "timeout": args.timeout,
        "max_cost": args.max_cost,
        "prices": args.prices,
        "db": args.db,
        "server": judge_server_settings(args),
    }


def run(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._statsio import print_json
    from evalkit.jobs.judge_quality import judge_quality

    report = judge_quality(request_from_args(args)).as_dict()
    if args.json:
        print_json(report)
    else:
        _print_table(report)
    return 0


# the text table's columns and their short headers
TEXT_COLUMNS = {
    "name": "rater",
    "n": "n",
    "human_agreement_tie_discounted": "tie-disc.",
    "human_agreement_tie_discounted_ci_low": "95% low",
    "human_agreement_tie_discounted_ci_high": "95% high",
    "human_agreement": "exact",
    "human_agreement_without_ties": "no ties",
    "cohen_kappa": "kappa",
    "prefer_first": "P(first)",
    "prefer_longer": "P(longer)",
    "position_consistency": "pos. cons.",
    "self_consistency": "self cons.",
    "invalid": "invalid",
    "invalid_reasons": "invalid by reason",
    "cost_per_1000": "USD/1k",
    "seconds_per_1000": "s/1k",
}


def _print_table(report: dict[str, Any]) -> None:
    import pandas as pd

    from evalkit.cli.commands._statsio import print_frame
    from evalkit.core.vocabulary import format_reasons

    rows = pd.DataFrame([report["humans"], *report["judges"]]).reindex(columns=list(TEXT_COLUMNS))
    rows["invalid_reasons"] = [format_reasons(r) or None for r in rows["invalid_reasons"]]
    rows = rows[[c for c in TEXT_COLUMNS if rows[c].notna().any()]].rename(columns=TEXT_COLUMNS)
    print_frame(
        f"{report['items']} pairs of {report['source']}: each judge vs the mode of the humans; "
        "first row: the humans vs each other (the ceiling)",
        rows,
    )
