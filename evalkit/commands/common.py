"""Flags shared by several subcommands, so they are spelled and documented once."""

from __future__ import annotations

import argparse

from evalkit.ranges import parse_range


def add_db_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=None, help="SQLAlchemy URL of the results store (env EVALKIT_DB; default sqlite:///evalkit.db)"
    )


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def epoch_range(text: str) -> list[int]:
    try:
        epochs = parse_range(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an epoch range: {text!r} (use e.g. 5-10 or 5,7,9)") from None
    if min(epochs) < 0:
        raise argparse.ArgumentTypeError(f"epochs are 0 or more, got {text!r}")
    return epochs


# argparse `type=` checks: a value out of range is refused while the command line is read, before any
# work or write, with one line naming the flag (argparse adds the flag's name to the message).
def positive_int(text: str) -> int:
    value = _number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _number(text, float, "a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float, "a number")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def probability(text: str) -> float:
    """top_p: a share of the probability mass, in (0, 1]."""
    value = _number(text, float, "a number")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _number(text: str, kind: type, what: str):  # type: ignore[no-untyped-def]
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):  # NaN and infinities compare oddly
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


class OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors in one line (the full usage of `evalkit run` is a screenful) and exit code 2."""

    def error(self, message: str):  # type: ignore[no-untyped-def]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_judge_temperature_flag(parser: argparse._ActionsContainer) -> None:
    """One flag for `run`, `pick` and `judge`: it becomes part of the judge's spec (and cache keys)."""
    parser.add_argument(
        "--judge-temperature",
        type=non_negative_float,
        default=None,
        help="judge sampling temperature (default 0; 0.7 when several samples are asked for)",
    )
