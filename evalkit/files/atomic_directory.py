"""Folders written whole or not at all: filled in a staging folder beside the target, then swapped in
by renames. A crash or an error mid-write leaves the previous folder in place and no staging folder
behind; a reader sees the old folder or the new one, never half of one (the leaderboard's saved
snapshot and tallies are such folders)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def directory_replaced(directory: Path) -> Iterator[Path]:
    """A staging folder to fill; when the block ends without an error it replaces `directory`."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        yield staging
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        staging.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
