"""Looking a name up in a store that may not exist yet, without creating or changing it: the checks a
command runs before it opens (and so perhaps creates) its store."""

from __future__ import annotations

from evalkit.store.opening import parse_url, sqlite_path
from evalkit.store.store import Store


def has_model(url: str, name: str) -> bool:
    """Whether the store at `url` holds a model called `name`; False when there is no store file. A store
    that cannot be read (corrupt, foreign) is an error naming it, as it would be when the command opens it."""
    path = sqlite_path(parse_url(url))
    if path is not None and not path.exists():
        return False
    store = Store(url, read_only=True)
    try:
        return name in set(store.models()["name"])
    finally:
        store.close()
