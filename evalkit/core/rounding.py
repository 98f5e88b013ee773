"""The one rounding rule for every figure a person reads: half up, on the decimal value.

Python's format() rounds the binary float half to even (56.25 -> "56.2") while the leaderboard's
JavaScript formatter rounds half up (56.25 -> "56.3"), so the same figure read differently on two
surfaces. Every surface that shows a figure rounds it here: the CLI tables and lines (`run`, `pick`,
`stats`, `judge`, `demo`) format with `format_figure`, the leaderboard rounds its shown columns with
`round_half_up` before its formatter prints the same digits. JSON and CSV keep full precision.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# A figure is a sum or mean of binary fractions, so 56.25 may arrive as 56.24999999999999. Its
# decimal value is read at 12 significant digits first (far below any shown digit, far above
# float64's noise at ~16) and that decimal is rounded half up.
SIGNIFICANT_DIGITS = 12
MISSING = "-"


def is_number(value: Any) -> bool:
    """A finite real number (bools, None, NaN and text are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def round_half_up(value: float, digits: int) -> float:
    """value rounded half up to `digits` decimals (56.25 -> 56.3, -56.25 -> -56.3); NaN and inf as given."""
    if not math.isfinite(value):
        return value
    decimal = Decimal(format(value, f".{SIGNIFICANT_DIGITS}g"))
    return float(decimal.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def format_figure(value: Any, digits: int, *, sign: bool = False, missing: str = MISSING) -> str:
    """The figure as text with `digits` decimals (`sign`: always a + or -); `missing` for no number."""
    if not is_number(value):
        return missing
    rounded = round_half_up(float(value), digits) + 0.0  # + 0.0: -0.0 prints as 0.0
    return f"{rounded:{'+' if sign else ''}.{digits}f}"
