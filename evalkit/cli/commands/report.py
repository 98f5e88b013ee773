"""`evalkit report`: a static report of the store (a folder that opens from file:// with no server)."""

from __future__ import annotations

import argparse

from evalkit.cli.commands.common import add_db_flag, out_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a static HTML report of the store (opens from disk, no server, nothing fetched)",
        description="Writes DIR/index.html with its script, style and data (data.js, data.json): the leaderboard, "
        "the Checkpoints view (figures by epoch with intervals, the window, the pick and its evidence), every "
        "prompt with both answers, the judges' verdicts and the humans' labels, agreement and saved judge-quality "
        "reports. Deep links: index.html#checkpoint=NAME, index.html#prompt=HASH. The store is only read.",
    )
    add_db_flag(parser)
    parser.add_argument("--out", type=out_path, required=True, help="the report's folder (new, empty, or an earlier report)")
    parser.add_argument("--run", default=None, help="only this training run's checkpoints (its path or folder name)")
    parser.add_argument("--force", action="store_true", help="write into a folder that holds other files too")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.jobs.report import write_report
    from evalkit.report.render import check_out

    check_out(args.out, args.force)  # before the store is read: a refused folder costs nothing
    result = write_report(args.out, db=args.db, run=args.run, force=args.force)
    size = result.size_bytes / 1_000_000
    print(
        f"wrote {result.out / 'index.html'} ({result.checkpoints} models, {result.prompts} prompts, "
        f"{size:.1f} MB, {result.seconds:.1f} s); open it in a browser, no server needed"
    )
    return 0
