"""The results store: SQLAlchemy Core over SQLite (default, WAL) or any other database URL."""

from evalkit.store.store import Store

__all__ = ["Store"]
