"""`evalkit agreement`: how far raters agree on pairwise labels, from a labels file or from the
store (human labels of annotation batches plus the judges' verdicts on the same pairs)."""

from __future__ import annotations

import argparse
from typing import Any

from evalkit.cli.commands.common import add_db_flag, add_json_flag


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "agreement",
        help="agreement between raters (humans, judges): LIMA and AlpacaEval protocols",
        description="Pairwise agreement (tie-discounted accuracy, agreement with/without ties, Cohen's kappa) for "
        "every pair of raters, and each rater against the mode of the others (AlpacaEval).",
    )
    parser.add_argument("--labels", default=None, help='JSONL rows {"item", "rater", "label": "A"|"B"|"tie"}')
    parser.add_argument(
        "--pool",
        nargs="+",
        default=None,
        help="raters whose mode is the reference (default: all raters; with the store: the humans)",
    )
    parser.add_argument("--batch", default=None, help="with the store: only this annotation batch")
    add_db_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._statsio import print_json
    from evalkit.jobs.stats import agreement

    result = agreement(args.labels, args.pool, args.db, args.batch).as_dict()
    if args.json:
        print_json(result)
        return 0
    _print_text(result)
    return 0


def _print_text(result: dict[str, Any]) -> None:
    import pandas as pd

    from evalkit.cli.commands._statsio import print_frame

    print_frame("pairs of raters (fractions; tie-discounted = LIMA's accuracy)", pd.DataFrame(result["pairs"]))
    vs = pd.DataFrame({"rater": list(result["vs_mode"]), "tie_discounted_vs_mode": list(result["vs_mode"].values())})
    print_frame("each rater vs the mode of the others (AlpacaEval)", vs)
    if "judges" in result:
        print_frame("judges: position consistency and length bias", pd.DataFrame(result["judges"]))
