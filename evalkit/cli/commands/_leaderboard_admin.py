"""`evalkit leaderboard`'s admin link at start: kept from an earlier start, made now, or, when the
store cannot be written, made for this server process only.

A token is printed only when it is made, since the store keeps just its hash. One made for this process
reaches the server as its hash, in the environment (never argv, never the token): `ps` and the
server's logs never show it.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.core.errors import EvalkitError
from evalkit.store import admin_link
from evalkit.store.errors import DatabaseError, refusal_reason
from evalkit.store.invitations import token_hash
from evalkit.store.store import Store


@dataclass(frozen=True)
class AdminStart:
    token: str | None  # to print now; None when the link made at an earlier start stays
    process_sha256: str | None  # the hash the server must also accept (store not writable), else None
    note: str  # one line for stderr: where the admin link is


def prepare(store: Store, replace: bool) -> AdminStart:
    existing = None if replace else admin_link.stored(store)
    if existing is not None:
        made = existing.created_at.strftime("%Y-%m-%d %H:%M %Z").strip()
        return AdminStart(
            None, None, f"the admin link is the one printed when it was made ({made}); lost it? --new-admin-link replaces it"
        )
    try:
        token = admin_link.replace(store)
    except DatabaseError as exc:
        reason = refusal_reason(exc)
        if replace:
            raise EvalkitError(f"--new-admin-link: cannot replace the admin link, the store is not writable ({reason})") from None
        token = admin_link.new_token()
        return AdminStart(
            token, token_hash(token), f"the store is not writable ({reason}): this admin link works until this server stops"
        )
    return AdminStart(token, None, "new admin link (printed only now; the store keeps its hash, --new-admin-link replaces it)")
