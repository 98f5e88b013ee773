"""JSON out: values made JSON-safe, and files written atomically (reading users' files: evalkit.files.userfile)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evalkit.files.atomic_text import write_text_atomic


def json_safe(value: Any) -> Any:
    """NaN is not JSON: missing numbers become null; numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON whole or not at all (evalkit.files.atomic_text): readers never see half a file. The folder
    is created: callers name files inside folders evalkit owns (a checkpoint run's picked.json)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, json.JSONEncoder(ensure_ascii=False, indent=2).iterencode(data))
