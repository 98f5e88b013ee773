"""Flags shared by several subcommands, so they are spelled and documented once."""

from __future__ import annotations

import argparse


def add_db_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of the results store (env EVALKIT_DB; default sqlite:///evalkit.db)")


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def parse_range(text: str) -> list[int]:
    """'5-10' -> [5..10]; '3,5,7' -> [3,5,7]; '4' -> [4]."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            values.extend(range(int(low), int(high) + 1))
        elif part:
            values.append(int(part))
    if not values:
        raise argparse.ArgumentTypeError(f"empty range {text!r}")
    return values


def epoch_range(text: str) -> list[int]:
    try:
        return parse_range(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an epoch range: {text!r} (use e.g. 5-10 or 5,7,9)") from None


def add_judge_temperature_flag(parser: argparse._ActionsContainer) -> None:
    """One flag for `run`, `pick` and `judge`: it becomes part of the judge's spec (and cache keys)."""
    parser.add_argument("--judge-temperature", type=float, default=None,
                        help="judge sampling temperature (default 0; 0.7 when several samples are asked for)")
