"""How `evalkit stats`, `agreement` and `judge-quality` print: JSON without NaN, and aligned tables.
Their inputs are read in evalkit.jobs.stats_inputs; the statistics live in evalkit.stats and never do I/O."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from evalkit.core.rounding import MISSING, format_figure


def jsonable(value: Any) -> Any:
    """numpy / pandas scalars to plain JSON; NaN and missing become null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, pd.DataFrame):
        return [jsonable(row) for row in value.to_dict(orient="records")]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (dt.date, dt.datetime)):  # pandas Timestamps too
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    print(json.dumps(jsonable(value), indent=2, ensure_ascii=False, allow_nan=False))


def print_frame(title: str, frame: pd.DataFrame, columns: list[str] | None = None) -> None:
    print(f"== {title}")
    if frame.empty:
        print("(nothing)")
        return
    shown = frame[[c for c in columns if c in frame.columns]] if columns else frame
    print(shown.to_string(index=False, float_format=lambda x: format_figure(x, 3), na_rep=MISSING))
