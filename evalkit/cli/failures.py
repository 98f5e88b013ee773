"""What the CLI prints for a failure: one line and an exit code, for the errors a user's input or
environment causes. Anything else is a bug and keeps its traceback.

Exit codes: 0 everything asked for was done; 1 done with failures, each named (or a database that
went away mid-job: finished work is stored); 2 bad input or environment, nothing done.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.core.errors import EvalkitError

DEBUG_HINT = " (--debug shows the traceback)"


@dataclass(frozen=True)
class Failure:
    code: int
    message: str


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no detail"


def failure_line(exc: BaseException) -> Failure | None:
    """The one-line report of a user-caused failure; None for a bug (the caller re-raises it)."""
    if isinstance(exc, EvalkitError):
        return Failure(exc.exit_code, str(exc))
    from evalkit.store.errors import (
        DatabaseError,
        driver_message,
    )  # here, not at the top: `evalkit --help` imports no database code

    if isinstance(exc, DatabaseError):
        return Failure(
            1,
            f"database failed mid-job: {_first_line(driver_message(exc))}; finished work is stored, re-run to continue{DEBUG_HINT}",
        )
    if isinstance(exc, UnicodeDecodeError):
        return Failure(2, f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8{DEBUG_HINT}")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return Failure(2, f"{where}{exc.strerror or exc.__class__.__name__}{DEBUG_HINT}")
    return None
