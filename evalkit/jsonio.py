"""JSON out: values made JSON-safe, and files written atomically."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from evalkit.fileperms import apply_umask


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
    """Write to a temporary file in the same folder and rename: readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2)
        apply_umask(tmp)  # mkstemp's 0600 would otherwise survive the rename
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_user_text(path: str | Path, what: str) -> str:
    """A user's text file, or one line naming it: missing, a folder, unreadable, or not UTF-8."""
    from evalkit.errors import EvalkitError

    source = Path(path)
    try:
        source.stat()
    except ValueError:  # e.g. a NUL character in a name read from a file
        raise EvalkitError(f"{what} {str(source)!r} is not a valid file name") from None
    except OSError:
        pass  # named below: not found, or not readable
    if not source.is_file():
        raise EvalkitError(f"{what} {source} not found" if not source.exists() else f"{what} {source} is not a file")
    try:
        return source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EvalkitError(f"{what} {source} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise EvalkitError(f"{what} {source} cannot be read ({exc.strerror})") from None
