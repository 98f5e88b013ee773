"""Who may see the result pages. Annotation is blind only if annotators cannot open the pages that show
model names, the judges' verdicts and other people's labels, so once anyone is invited, or the server
is reachable beyond loopback, every page but Annotate needs the admin link (`?admin=...`) that
`evalkit leaderboard` printed. On loopback with nobody invited every page stays open, as before.

Checked on every rerun. The link's token is compared by hash with the store's admin link (and with
the one made for this process when the store is read-only); a wrong one costs the session a growing
wait (backoff.py). Sidebar navigation drops the query string, so a session that opened a valid link
remembers the link's hash (never the token) and checks it again on each rerun: replacing the link
(`--new-admin-link`) ends that session's access at its next click.
"""

from __future__ import annotations

import hmac

import streamlit as st

from evalkit.leaderboard import launch_env
from evalkit.leaderboard.backoff import throttled
from evalkit.store import admin_link
from evalkit.store.invitations import token_hash
from evalkit.store.store import Store

ADMIN_PARAM = "admin"
LOCKED = "Open your personal annotation link, or the admin link that `evalkit leaderboard` printed."
WRONG_ADMIN_LINK = "This admin link does not open the result pages (it was replaced, or mistyped)."
_OPENED = "admin_link_sha256"


def results_need_admin(store: Store) -> bool:
    return launch_env.exposed() or admin_link.invitations_exist(store)


def _accepted(store: Store) -> list[str]:
    link = admin_link.stored(store)
    return [h for h in (link.token_sha256 if link else None, launch_env.process_admin_sha256()) if h]


def presented_admin_token() -> str | None:
    token = st.query_params.get(ADMIN_PARAM)
    return token.strip() if isinstance(token, str) and token.strip() else None


def is_admin(store: Store) -> bool:
    """Whether this session holds a valid admin link: the one in the URL, else the one it opened before."""
    accepted = _accepted(store)
    token = presented_admin_token()
    if token is not None:
        opened = throttled("admin", lambda: True if admin_link.opens(token, accepted) else None) is not None
        if opened:
            st.session_state[_OPENED] = token_hash(token)
        else:
            st.session_state.pop(_OPENED, None)
        return opened
    remembered = st.session_state.get(_OPENED)
    return isinstance(remembered, str) and any(hmac.compare_digest(remembered, h) for h in accepted)
