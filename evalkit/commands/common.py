"""Flags shared by several subcommands, so they are spelled and documented once."""

from __future__ import annotations

import argparse

from evalkit.ranges import parse_range


def add_db_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of the results store (env EVALKIT_DB; default sqlite:///evalkit.db)")


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def epoch_range(text: str) -> list[int]:
    try:
        return parse_range(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an epoch range: {text!r} (use e.g. 5-10 or 5,7,9)") from None


def add_judge_temperature_flag(parser: argparse._ActionsContainer) -> None:
    """One flag for `run`, `pick` and `judge`: it becomes part of the judge's spec (and cache keys)."""
    parser.add_argument("--judge-temperature", type=float, default=None,
                        help="judge sampling temperature (default 0; 0.7 when several samples are asked for)")
