"""Text files written whole or not at all: a temporary file beside the target, renamed over it when
complete. A failed write (a full disk, a kill signal unwinding, a bad row) removes the temporary file,
so no `.partial` or `.tmp` is left behind and an existing target keeps its old content."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.files.fileperms import apply_umask


def write_text_atomic(path: str | Path, chunks: Iterable[str]) -> int:
    """Write `chunks` (a string is one chunk) to `path` atomically; return the number of chunks.
    An OSError (ENOSPC, EDQUOT, EIO) is one line naming the file, exit code 2: nothing was written."""
    target = Path(path)
    parts = [chunks] if isinstance(chunks, str) else chunks
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        written = _fill(handle, parts)
        apply_umask(temporary)  # mkstemp's 0600 would otherwise survive the rename
        os.replace(temporary, target)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise EvalkitError(f"cannot write {target}: {exc.strerror or exc}; nothing was written") from None
        raise
    return written


def _fill(handle: int, parts: Iterable[str]) -> int:
    try:
        out = os.fdopen(handle, "w", encoding="utf-8")
    except BaseException:
        os.close(handle)
        raise
    written = 0
    with out:
        for chunk in parts:
            out.write(chunk)
            written += 1
    return written
