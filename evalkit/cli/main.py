"""The `evalkit` command. Each subcommand lives in evalkit/cli/commands/<name>.py and exposes
`register(subparsers)`; heavy imports (torch, openai, streamlit) happen inside the handlers so that
`evalkit --help` stays instant."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from evalkit import __version__
from evalkit.cli.commands.common import OneLineErrorParser
from evalkit.cli.failures import failure_line
from evalkit.core.redaction import redact_logs, redact_text

# Order is the order `evalkit --help` lists them in.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "generate",
    "judge",
    "stats",
    "agreement",
    "judge_quality",
    "pick",
    "train",
    "data",
    "sweep",
    "leaderboard",
    "report",
    "annotate",
    "demo",
    "models",
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt: every `finally` and context
    manager runs (a judge server evalkit started is stopped, finished work is stored) before exit 143."""


def _terminate(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second SIGTERM must not cut the cleanup short
    raise Terminated()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM unwinds it as an interrupt instead of killing the process at once
    (which would leave child servers and half-written state to chance). Main thread only; restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="evalkit",
        description="Evaluate fine-tuned checkpoints LIMA-style: generate, judge, score, pick, and browse.",
    )
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of a failure (env EVALKIT_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"evalkit.cli.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from evalkit.store.created_files import forget_created_stores, remove_stores_created_empty

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error (2) or --help / --version (0): a code, for in-process callers too
        return int(exc.code or 0)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    redact_logs()  # -v logs request URLs (httpx, openai): a judge URL's credentials must not show
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("EVALKIT_DEBUG", "") not in ("", "0")
    forget_created_stores()
    try:
        with sigterm_as_interrupt():
            return int(args.handler(args) or 0)
    except KeyboardInterrupt as exc:
        stopped = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"evalkit: {stopped}; finished work is stored, re-run to continue", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:
        remove_stores_created_empty()  # a failed command leaves no new store without work in it
        failure = failure_line(exc)
        if failure is None or debug:
            raise  # a bug, or --debug: the traceback is what is needed
        print(f"evalkit: error: {redact_text(failure.message)}", file=sys.stderr)
        return failure.code


if __name__ == "__main__":
    sys.exit(main())
