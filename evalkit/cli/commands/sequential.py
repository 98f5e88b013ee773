"""`evalkit stats sequential`: when would each stream of pairwise labels have been decided, reading one
label at a time with an anytime-valid confidence sequence (the work is in evalkit.jobs.sequential)."""

from __future__ import annotations

import argparse

from evalkit.cli.commands.common import add_json_flag
from evalkit.core.rounding import format_figure

HEADER = ("stream", "n", "decided", "n_used", "winner", "preference of A (%)")


def register_sequential(sub: argparse._SubParsersAction) -> None:
    sequential = sub.add_parser(
        "sequential",
        help="anytime-valid sequential judging: when each stream of labels is decided",
        description="Follows, label by label, a betting confidence sequence (Waudby-Smith & Ramdas 2023, hedged, "
        "predictable plug-in) for the tie-discounted preference of A (A = 1, tie = 0.5, B = 0) of each stream; a "
        "stream is decided when the sequence first excludes 0.5. Valid at every label at once: the chance that a "
        "stream with no real difference is ever decided is at most alpha.",
    )
    sequential.add_argument(
        "--labels", required=True, help='JSONL, one {"stream": ..., "label": "A"|"B"|"tie"} per line in arrival order'
    )
    sequential.add_argument("--alpha", type=float, default=0.05, help="error rate, in (0, 1) (default 0.05)")
    add_json_flag(sequential)
    sequential.set_defaults(handler=run_sequential)


def run_sequential(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._statsio import print_json
    from evalkit.jobs.sequential import check_alpha, sequential

    check_alpha(args.alpha)
    result = sequential(args.labels, args.alpha)
    if args.json:
        print_json(result.as_dict())
        return 0
    rows = [
        (
            "-" if s.stream is None else str(s.stream),
            str(s.n),
            "yes" if s.decided else "no",
            str(s.n_used),
            s.winner or "-",
            f"[{format_figure(100 * s.ci_low, 1)}, {format_figure(100 * s.ci_high, 1)}]",
        )
        for s in result.streams
    ]
    widths = [max(len(row[i]) for row in (HEADER, *rows)) for i in range(len(HEADER))]
    print(f"confidence sequence at level {format_figure(100 * (1 - args.alpha), 1)}% (anytime-valid)")
    for row in (HEADER, *rows):
        print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths))))
    return 0
