"""Who is annotating: the invitation whose token is in the page's URL (`?token=...`), checked on every
rerun, so a revoked or expired link stops working at the next click.

Without a valid token the page shows one line and nothing of any batch. Each failed token costs the
session a growing wait (1 s, 2 s, 4 s ... up to 30 s) before its next check: a guess per rerun is
slowed, and the tokens' 256 random bits make guessing hopeless anyway. The token itself is never
written to the page, the session state or a log; only its hash is looked up.
"""

from __future__ import annotations

import time

import streamlit as st

from evalkit.store import invitations
from evalkit.store.invitations import Invitation
from evalkit.store.store import Store

NEEDS_LINK = "This page needs your personal annotation link. Ask the person running the evaluation for one."
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
_FAILURES = "annotate_failed_tokens"
_RETRY_AT = "annotate_retry_at"


def backoff_seconds(failures: int) -> float:
    """The wait before the next check after `failures` failed tokens in a row."""
    return 0.0 if failures <= 0 else min(BACKOFF_FIRST_S * 2 ** (failures - 1), BACKOFF_MAX_S)


def _presented_token() -> str | None:
    token = st.query_params.get("token")
    return token.strip() if isinstance(token, str) and token.strip() else None


def current_invitation(store: Store) -> Invitation | None:
    """The valid invitation of this page's link, or None (after this session's back-off)."""
    token = _presented_token()
    if token is None:
        return None
    wait = st.session_state.get(_RETRY_AT, 0.0) - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    invitation = invitations.check(store, token)
    failures = 0 if invitation is not None else st.session_state.get(_FAILURES, 0) + 1
    st.session_state[_FAILURES] = failures
    st.session_state[_RETRY_AT] = time.monotonic() + backoff_seconds(failures)
    return invitation


def still_valid(store: Store, invitation: Invitation) -> bool:
    """For button callbacks: the link still opens the same invitation (not revoked or expired since)."""
    token = _presented_token()
    current = invitations.check(store, token) if token else None
    return current is not None and current.id == invitation.id
