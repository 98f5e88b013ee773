"""How the report shows a figure: the digits `evalkit pick`, the leaderboard and the Checkpoints page show
(win rates and shares in percent with one decimal, Likert grades with two), rounded by
evalkit.core.rounding so the page prints exactly what the command line prints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.core.rounding import format_figure

WIN_RATE_DIGITS = 1
GRADE_DIGITS = 2
# summary columns in percent (pairwise rows): shown with one decimal
PERCENT_FIELDS = (
    "win_rate",
    "standard_error",
    "ci_low",
    "ci_high",
    "win_pct",
    "tie_pct",
    "loss_pct",
    "length_controlled_winrate",
    "lc_standard_error",
)
GRADE_FIELDS = ("mean", "ci_low", "ci_high")  # single-answer grades
MISSING = "–"


def percent(value: Any, *, sign: bool = False) -> str:
    """A win rate, share or difference of win rates (percent), one decimal."""
    return format_figure(value, WIN_RATE_DIGITS, sign=sign, missing=MISSING)


def grade(value: Any) -> str:
    """A mean grade (Likert and the like), two decimals."""
    return format_figure(value, GRADE_DIGITS, missing=MISSING)


def shown_fields(row: Mapping[str, Any], fields: tuple[str, ...], digits: int) -> dict[str, str]:
    """The row's figures as the text the page prints, by field (fields the row lacks are left out)."""
    return {name: format_figure(row[name], digits, missing=MISSING) for name in fields if name in row}
