"""`evalkit pick`: choose the best checkpoint of a training run (epochs 5-10 by default)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from evalkit.cli.commands.common import add_json_flag, epoch_range, judge_server_settings
from evalkit.cli.commands.run import add_run_flags
from evalkit.cli.commands.stopping_flags import add_stopping_flags
from evalkit.core.rounding import format_figure
from evalkit.decision.evidence import human_labels_sentence, power_sentence
from evalkit.decision.policy_names import POLICIES, POLICY
from evalkit.decision.stopping_record import stopping_lines


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pick",
        help="pick the best checkpoint of a training run",
        description="Evaluate what is missing, then pick by policy winrate-likert-earliest; "
        "writes PATH/picked.json, a PATH/best link and a decision record. When the best is statistically tied "
        "and no grade separates the tied checkpoints, the decision says so (decided: false) and how many prompts "
        "would separate best and runner-up; the earliest epoch is taken by convention. Every pick ends with that "
        "guidance at 80% power (in --json: power). Checkpoints with human labels (evalkit annotate) also show the "
        "combined human + judge (PPI++) win rate; --policy combined-likert-earliest ranks on it (every checkpoint "
        "needs human labels) and the guidance then says how many human labels would separate best and runner-up.",
    )
    parser.add_argument("path", help="training output directory with epoch-N/ checkpoints")
    parser.add_argument("--window", type=epoch_range, default=None, help="epochs to choose from (default 5-10)")
    parser.add_argument("--policy", choices=POLICIES, default=POLICY, help="picking policy (default %(default)s)")
    add_run_flags(parser)
    add_stopping_flags(parser)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.cli.commands.run import config_from_args
    from evalkit.jobs.evaluation import DEFAULT_WINDOW
    from evalkit.jobs.pick import pick_run

    window = tuple(args.window) if args.window else DEFAULT_WINDOW
    config = config_from_args(args)
    evidence = pick_run(args.path, config, db=args.db, window=window, policy=args.policy, server=judge_server_settings(args))
    decision = evidence.as_dict()
    if args.json:
        print(json.dumps(decision))
        return 0
    for line in decision_lines(decision):
        print(line)
    print(f"wrote {args.path}/picked.json and {args.path}/best")
    return 0


def decision_lines(decision: dict[str, Any]) -> list[str]:
    """The decision as people read it: a tie is called one before the checkpoint taken anyway; last, how
    many prompts would separate the best from the runner-up with 80% power."""

    verb = "picked" if decision.get("decided", True) else "no checkpoint is better on this evidence; took"
    lines = [f"{verb} {decision['chosen']} (epoch {decision['epoch']}): {decision['reason']}"]
    for row in decision["evidence"]:
        likert, win = format_figure(row["likert_mean"], 2), format_figure(row["win_rate"], 1)
        lines.append(
            f"  {row['name']:>10}  win rate {win:>5}  likert {likert:>5}  valid {row['n_valid']:>4}"
            f"{combined_cell(row)}{'  (tied with best)' if row['tied_with_best'] else ''}"
        )
    for guidance in (power_sentence(decision), human_labels_sentence(decision)):
        if guidance is not None:
            lines.append(guidance)
    return lines + stopping_lines(decision)


def combined_cell(row: dict[str, Any]) -> str:
    """ "  combined 52.3 [45.1, 59.5] (12 humans)" beside the judge-only win rate; "" without human labels."""
    if row.get("combined") is None:
        return ""
    low, high = format_figure(row["combined_ci_low"], 1), format_figure(row["combined_ci_high"], 1)
    return f"  combined {format_figure(row['combined'], 1)} [{low}, {high}] ({row['n_humans']} humans)"
