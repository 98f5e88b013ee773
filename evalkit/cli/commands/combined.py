"""`evalkit stats combined`: a few human labels and many judge labels combined (PPI++) into the humans'
win rate of A on every item, with its interval beside the humans'-only one."""

from __future__ import annotations

import argparse

from evalkit.cli.commands.common import (
    add_db_flag,
    add_json_flag,
    add_judge_budget_flags,
    add_judge_call_flags,
)
from evalkit.cli.commands.judge_quality import FORMAT_HELP, judge_call_fields
from evalkit.core.rounding import format_figure


def register_combined(sub: argparse._SubParsersAction) -> None:
    combined = sub.add_parser(
        "combined",
        help="prediction-powered win rate: few human labels + many judge labels",
        description="The humans' tie-discounted win rate of A (A = 1, tie = 0.5, B = 0; mean over an item's raters) "
        "over every item of the judge's file, estimated by prediction-powered inference (PPI++, power-tuned "
        "lambda in [0, 1]) from the human-labelled subset and the judge's labels; with the classical interval "
        "from the human items alone. Formats: " + FORMAT_HELP,
    )
    combined.add_argument("--humans", required=True, help="human labels (any judge-quality format); may cover a subset")
    combined.add_argument(
        "--format", choices=("alpaca_eval", "pandalm", "mtbench", "labels"), default=None, help="layout of --humans"
    )
    combined.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    judge = combined.add_argument_group("the judge (its labels from a file, or run on an items file)")
    judge.add_argument("--judge-labels", metavar="FILE", help="one judge's labels on every item the estimate is about")
    judge.add_argument(
        "--judge", metavar="NAME[@MODEL]", help="run this judge (pairwise | alpaca_eval | SPEC.yaml) on every pair of --items"
    )
    judge.add_argument(
        "--items", metavar="FILE", help="with --judge: the pairs the estimate is about (any format; labels ignored)"
    )
    judge.add_argument("--judge-model", default=None, help="model of --judge without @MODEL (env EVALKIT_JUDGE_MODEL)")
    add_judge_call_flags(judge, samples_help="ask the judge K times per pair and order (their labels averaged per item)")
    add_judge_budget_flags(judge)
    add_db_flag(combined)
    add_json_flag(combined)
    combined.set_defaults(handler=run_combined)


def run_combined(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._statsio import print_json
    from evalkit.jobs.combined import CombinedRequest, combined_win_rate
    from evalkit.jobs.judge_quality import JudgeQualityRequest

    calls = JudgeQualityRequest(**judge_call_fields(args))
    request = CombinedRequest(args.humans, args.judge_labels, args.format, args.level, args.judge, args.items, calls)
    request.check()
    result = combined_win_rate(request).as_dict()
    if args.json:
        print_json(result)
        return 0
    level = format_figure(100 * result["level"], 1)
    rows = [
        ("combined (ppi++)", result, f"{result['n_humans']} humans + {result['n_judge']} judge"),
        ("humans only", result["human_only"], f"{result['n_humans']} humans"),
    ]
    print(f"== humans' win rate of A (percent, {level}% interval)")
    print(f"{'':<17} {'estimate':>8} {'low':>6} {'high':>6}  items")
    for name, figures, items in rows:
        low, high = (format_figure(100 * figures[k], 1) for k in ("ci_low", "ci_high"))
        print(f"{name:<17} {format_figure(100 * figures['estimate'], 1):>8} {low:>6} {high:>6}  {items}")
    print(
        f"lambda {format_figure(result['lambda'], 3)}; the combined interval is worth "
        f"{format_figure(result['effective_n_humans'], 0)} human-labelled items"
    )
    return 0
