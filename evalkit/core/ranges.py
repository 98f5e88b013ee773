"""Epoch ranges as users write them ("5-10", "3,5,7"), for the CLI and for recipe files alike."""

from __future__ import annotations


def parse_range(text: str) -> list[int]:
    """'5-10' -> [5..10]; '3,5,7' -> [3,5,7]; '4' -> [4]. ValueError for anything else, a reversed
    range ('10-5') or an empty one included (argparse callers turn it into a usage error)."""
    values: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part.lstrip("-"):
            low, high = (int(x) for x in part.split("-", 1))
            if low > high:
                raise ValueError(f"reversed range {part!r}")
            values.extend(range(low, high + 1))
        elif part:
            values.append(int(part))
    if not values:
        raise ValueError(f"empty range {text!r}")
    if min(values) < 0:
        raise ValueError(f"negative epoch in {text!r}")
    return values
