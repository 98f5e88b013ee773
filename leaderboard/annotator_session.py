"""Who is annotating: the invitation whose token is in the page's URL (`?token=...`), checked on every
rerun, so a revoked or expired link stops working at the next click.

Without a valid token the page shows one line and nothing of any batch. Failed tokens slow the
session down (backoff.py). The token itself is never written to the page, the session state or a log;
only its hash is looked up.
"""

from __future__ import annotations

import streamlit as st

from evalkit.leaderboard.backoff import throttled
from evalkit.store import invitations
from evalkit.store.invitations import Invitation
from evalkit.store.store import Store

NEEDS_LINK = "This page needs your personal annotation link. Ask the person running the evaluation for one."


def _presented_token() -> str | None:
    token = st.query_params.get("token")
    return token.strip() if isinstance(token, str) and token.strip() else None


def current_invitation(store: Store) -> Invitation | None:
    """The valid invitation of this page's link, or None (after this session's back-off)."""
    token = _presented_token()
    if token is None:
        return None
    return throttled("annotate", lambda: invitations.check(store, token))


def still_valid(store: Store, invitation: Invitation) -> bool:
    """For button callbacks: the link still opens the same invitation (not revoked or expired since)."""
    token = _presented_token()
    current = invitations.check(store, token) if token else None
    return current is not None and current.id == invitation.id
