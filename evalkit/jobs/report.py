"""`evalkit report`'s work: the store's figures gathered (read-only) and written as a static report folder."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from evalkit.core.settings import db_url
from evalkit.report.data import gather
from evalkit.report.render import check_out, write


@dataclass(frozen=True)
class ReportResult:
    """Where the report went, what it holds and what it cost."""

    out: Path
    files: tuple[Path, ...]
    size_bytes: int
    checkpoints: int
    prompts: int
    seconds: float


def write_report(out: Path, db: str | None = None, run: str | None = None, force: bool = False) -> ReportResult:
    """The report of the store `db` (only training run `run`, when given) in the folder `out`. Nothing is
    written when the folder is refused or the store cannot be read."""
    started = time.perf_counter()
    check_out(out, force)
    data = gather(db_url(db), run)
    written = tuple(write(data, out))
    return ReportResult(
        out=out,
        files=written,
        size_bytes=sum(path.stat().st_size for path in written),
        checkpoints=len(data["models"]),
        prompts=len(data["prompts"]),
        seconds=time.perf_counter() - started,
    )
