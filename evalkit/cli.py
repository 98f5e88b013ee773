"""The `evalkit` command. Each subcommand lives in evalkit/commands/<name>.py and exposes
`register(subparsers)`; heavy imports (torch, openai, streamlit) happen inside the handlers so that
`evalkit --help` stays instant."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from evalkit import __version__
from evalkit.errors import EvalkitError

# Order is the order `evalkit --help` lists them in.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "generate",
    "judge",
    "stats",
    "agreement",
    "pick",
    "train",
    "leaderboard",
    "annotate",
    "demo",
    "models",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalkit",
        description="Evaluate fine-tuned checkpoints LIMA-style: generate, judge, score, pick, and browse.",
    )
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"evalkit.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except EvalkitError as exc:
        print(f"evalkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("evalkit: interrupted; finished work is stored, re-run to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
