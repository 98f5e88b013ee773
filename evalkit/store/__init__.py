"""The results store: SQLAlchemy Core over SQLite (default, WAL) or any other database URL.

`Store` loads on first use (PEP 562): the command line imports `evalkit.store.opening` to parse
arguments, and `evalkit --help` should not pay for pandas and SQLAlchemy.
"""

from typing import TYPE_CHECKING, Any

__all__ = ["Store"]

if TYPE_CHECKING:
    from evalkit.store.store import Store


def __getattr__(name: str) -> Any:
    if name != "Store":
        raise AttributeError(f"module 'evalkit.store' has no attribute {name!r}")
    from evalkit.store.store import Store

    return Store
