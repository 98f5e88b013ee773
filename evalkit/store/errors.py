"""Database failures as the rest of evalkit sees them, so no module outside the store imports SQLAlchemy
to recognise one."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# What a failure of the database is, whichever driver raised it (a lost server, a locked or read-only
# file, a full disk): SQLAlchemy wraps them all in DBAPIError.
DatabaseError = DBAPIError


def driver_message(exc: DatabaseError) -> str:
    """The driver's own message: it names the server or file, never the password or the SQL parameters."""
    return str(exc.orig)


def refusal_reason(exc: DatabaseError) -> str:
    """One line saying why the database refused: the driver's first line, else the exception's class."""
    return str(exc.orig).splitlines()[0] if exc.orig is not None else exc.__class__.__name__
