"""Rows a statistic leaves out, counted on stderr: the numbers stay equal to AlpacaEval's, and the
user learns that fewer rows went into them than the file holds."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

SHOWN_VALUES = 3


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def dropped_preference_lines(preferences: Iterable[Any], source: str) -> list[str]:
    from evalkit.stats.winrate import dropped_preferences

    missing, out_of_range = dropped_preferences(preferences)
    lines = []
    if out_of_range:
        values = ", ".join(f"{v:g}" for v in list(dict.fromkeys(out_of_range))[:SHOWN_VALUES])
        more = ", ..." if len(set(out_of_range)) > SHOWN_VALUES else ""
        # AlpacaEval keeps 0 (a legacy tie) and [1, 2]; values in (0, 1) fall outside too.
        span = "[0, 2]" if all(v < 0 or v > 2 for v in out_of_range) else "0 or [1, 2]"
        lines.append(f"{source}: {_rows(len(out_of_range))} with preference {values}{more} outside {span} left out")
    if missing:
        lines.append(f"{source}: {_rows(missing)} without a numeric preference left out")
    return lines


def report_dropped_preferences(preferences: Iterable[Any], source: str) -> None:
    for line in dropped_preference_lines(preferences, source):
        print(f"evalkit: {line}", file=sys.stderr)
