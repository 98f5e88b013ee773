"""The leaderboard's admin link: the token that opens the result pages once annotators are invited or
the server is reachable from other machines (so annotation stays blind).

Like an invitation, the token is `secrets.token_urlsafe(32)` and the store keeps only its SHA-256 (in
the `meta` table, so one link serves every restart): a copy of the database opens nothing, and the
token exists only in what `evalkit leaderboard` printed when it made it. Replacing it ends the old link
at the next page run of every server on this store.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from evalkit.store import schema as t
from evalkit.store.invitations import TOKEN_BYTES, token_hash
from evalkit.store.store import Store

META_KEY = "leaderboard_admin_link"


@dataclass(frozen=True)
class AdminLink:
    """What the store knows of the admin link: never the token."""

    token_sha256: str
    created_at: dt.datetime


def stored(store: Store) -> AdminLink | None:
    with store.engine.connect() as conn:
        value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == META_KEY)).scalar()
    if value is None:
        return None
    try:
        record = json.loads(value)
        return AdminLink(str(record["sha256"]), dt.datetime.fromisoformat(record["created_at"]))
    except (ValueError, KeyError, TypeError):  # not ours to repair: treated as no link, a new one replaces it
        return None


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def replace(store: Store) -> str:
    """Store a new admin link (ending the previous one) and return its token, which is kept nowhere.
    Raises evalkit.store.errors.DatabaseError when the store cannot be written (read-only file or user)."""
    token = new_token()
    record = {"sha256": token_hash(token), "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    with store.engine.begin() as conn:  # one transaction: a reader never sees no link between the two
        conn.execute(delete(t.meta).where(t.meta.c.key == META_KEY))
        conn.execute(insert(t.meta).values(key=META_KEY, value=json.dumps(record)))
    return token


def opens(token: str | None, accepted_sha256: Iterable[str]) -> bool:
    """Whether `token` is the admin link's (any of the accepted hashes; compared in constant time)."""
    if not token or len(token) > 200:
        return False
    presented = token_hash(token)
    return any(hmac.compare_digest(presented, accepted) for accepted in accepted_sha256 if accepted)


def invitations_exist(store: Store) -> bool:
    """Whether anyone was ever invited to annotate here (live, expired or revoked alike): from then on
    the result pages, which show model names and others' labels, need the admin link."""
    inv = t.annotation_invitations
    with store.engine.connect() as conn:
        return conn.execute(select(inv.c.id).limit(1)).first() is not None
