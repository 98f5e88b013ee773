"""Invitations: the only way to annotate. A link carries a random token; the store keeps its hash.

The token is `secrets.token_urlsafe(32)` (256 random bits), so a plain SHA-256 is enough to store it:
nobody can guess a preimage of a uniformly random 256-bit value, and a slow password hash would only
slow every page view. The annotator's name comes from the invitation row, never from the page, so
nobody can label under someone else's name. Lookups compare hashes with `hmac.compare_digest`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

import pandas as pd
from sqlalchemy import insert, select, update

from evalkit.core.errors import EvalkitError
from evalkit.core.settings import DEFAULT_LEADERBOARD_URL
from evalkit.store import label_batches
from evalkit.store import schema as t
from evalkit.store.label_writes import check_annotator
from evalkit.store.store import Store

BatchKind = Literal["pairwise", "absolute"]
DEFAULT_BASE_URL = DEFAULT_LEADERBOARD_URL
TOKEN_BYTES = 32
_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Invitation:
    """A valid invitation: who annotates which batch. Never holds the token."""

    id: int
    annotator: str
    batch_name: str
    kind: BatchKind
    batch_id: int
    expires_at: dt.datetime

    @property
    def label_source(self) -> str:
        """What a label given through this invitation records as its source."""
        return f"invitation:{self.id}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_duration(text: str) -> dt.timedelta:
    """'90m', '12h', '7d', '2w' -> timedelta; anything else is the user's error."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise EvalkitError(f"--expires must be a positive number with a unit m, h, d or w (e.g. 7d), got {text!r}")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def find_batch(store: Store, name: str) -> tuple[BatchKind, int]:
    """(kind, id) of the batch called `name`, pairwise or absolute."""
    kind, batch = label_batches.find_batch(store, name)
    return kind, batch  # type: ignore[return-value]  # annotation_batches.kind holds only the two kinds


def annotate_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/annotate?{urlencode({'token': token})}"


def invite(store: Store, batch_name: str, annotator: str, expires_in: dt.timedelta, base_url: str = DEFAULT_BASE_URL) -> str:
    """Store a new invitation and return its link. The token exists only in the returned link."""
    if not annotator.strip():
        raise EvalkitError("--annotator must name the person invited")
    annotator = check_annotator(annotator, "--annotator")  # their labels will carry this name: it must fit
    if not base_url.startswith(("http://", "https://")):
        raise EvalkitError(f"--base-url must start with http:// or https://, got {base_url!r}")
    find_batch(store, batch_name)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = _now()
    with store.engine.begin() as conn:
        conn.execute(
            insert(t.annotation_invitations).values(
                token_hash=token_hash(token),
                batch_name=batch_name,
                annotator=annotator,
                created_at=now,
                expires_at=now + expires_in,
            )
        )
    return annotate_link(base_url, token)


def revoke(store: Store, batch_name: str, annotator: str) -> int:
    """End every live invitation of this annotator to this batch; returns how many were ended.
    Their labels stay: they were given under a valid invitation."""
    inv = t.annotation_invitations
    with store.engine.begin() as conn:
        result = conn.execute(
            update(inv)
            .where(inv.c.batch_name == batch_name, inv.c.annotator == annotator.strip(), inv.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
    if not result.rowcount:
        raise EvalkitError(f"no live invitation of {annotator!r} to batch {batch_name!r}; see `evalkit annotate invitations`")
    return int(result.rowcount)


def check(store: Store, token: str | None) -> Invitation | None:
    """The invitation this token opens, or None (unknown, expired, revoked, or its batch is gone)."""
    if not token or len(token) > 200:
        return None
    wanted = token_hash(token)
    inv = t.annotation_invitations
    with store.engine.connect() as conn:
        row = conn.execute(select(inv).where(inv.c.token_hash == wanted)).mappings().first()
    if row is None or not hmac.compare_digest(row["token_hash"], wanted):
        return None
    if row["revoked_at"] is not None or _utc(row["expires_at"]) <= _now():
        return None
    try:
        kind, batch = find_batch(store, row["batch_name"])
    except EvalkitError:
        return None
    return Invitation(int(row["id"]), row["annotator"], row["batch_name"], kind, batch, _utc(row["expires_at"]))


def invited_names(store: Store) -> dict[str, str]:
    """Every name ever invited to any batch (live, expired or revoked), casefolded -> as invited: the
    people whose labels come through links, so an import must not write under their names unasked."""
    with store.engine.connect() as conn:
        names = conn.execute(select(t.annotation_invitations.c.annotator).distinct()).scalars().all()
    return {name.strip().casefold(): name for name in names}


def invitations(store: Store, batch_name: str | None = None) -> pd.DataFrame:
    """Every invitation with its state (live / expired / revoked), without any token material."""
    inv = t.annotation_invitations
    query = select(inv.c.id, inv.c.batch_name, inv.c.annotator, inv.c.created_at, inv.c.expires_at, inv.c.revoked_at)
    if batch_name is not None:
        query = query.where(inv.c.batch_name == batch_name)
    frame = store.frame(query.order_by(inv.c.id))
    now = _now()
    frame["state"] = [
        ("revoked" if pd.notna(revoked) else "expired" if _utc(pd.Timestamp(expires).to_pydatetime()) <= now else "live")
        for revoked, expires in zip(frame["revoked_at"], frame["expires_at"])
    ]
    return frame
