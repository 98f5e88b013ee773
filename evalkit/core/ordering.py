"""Natural order of names: epoch-2 before epoch-10, on every surface that lists models.

Plain string order puts "ckpt/epoch-10" between epoch-1 and epoch-2; a name is compared here as its
text and number runs, the numbers by value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

_NUMBER_RUNS = re.compile(r"(\d+)")


def natural_key(value: Any) -> tuple[Any, ...]:
    """("epoch-", 10, "") for "epoch-10". re.split with a capturing group alternates text and number,
    so two keys always compare text with text and number with number."""
    parts = _NUMBER_RUNS.split(str(value))
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts))


def natural_sorted(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The frame's rows in natural order of these columns (those it has; stable, index reset)."""
    present = [column for column in columns if column in frame.columns]
    if frame.empty or not present:
        return frame.reset_index(drop=True)
    keys = [tuple(natural_key(value) for value in row) for row in frame[present].itertuples(index=False)]
    order = sorted(range(len(frame)), key=keys.__getitem__)
    return frame.iloc[order].reset_index(drop=True)
