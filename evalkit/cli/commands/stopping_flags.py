"""`--stop-when-decided` and its settings, shared by `evalkit run` and `evalkit pick`."""

from __future__ import annotations

import argparse

from evalkit.cli.commands.common import positive_int
from evalkit.decision.stopping_settings import DEFAULT_ALPHA, MIN_ROUND_SIZE, StoppingSettings


def error_rate(text: str) -> float:
    """--alpha: an error rate, in the open interval (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 < value < 1.0:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def add_stopping_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("stopping when decided")
    group.add_argument(
        "--stop-when-decided",
        action="store_true",
        help="judge prompts in a seeded random order (--seed), in rounds, and stop judging a checkpoint once an "
        "anytime-valid confidence sequence decides it is worse than the current best, or it can no longer reach it",
    )
    group.add_argument(
        "--round-size",
        type=positive_int,
        default=None,
        help=f"prompts added per round (default: a tenth of the prompt set, at least {MIN_ROUND_SIZE})",
    )
    group.add_argument(
        "--alpha",
        type=error_rate,
        default=DEFAULT_ALPHA,
        help="chance of stopping any checkpoint that is in fact not worse than the best, in (0, 1) (default %(default)s)",
    )


def stopping_from_args(args: argparse.Namespace) -> StoppingSettings | None:
    """The settings when --stop-when-decided is given (commands without the flags: None)."""
    if not getattr(args, "stop_when_decided", False):
        return None
    return StoppingSettings(alpha=args.alpha, round_size=args.round_size)
