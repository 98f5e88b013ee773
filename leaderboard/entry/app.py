"""Entry script of the leaderboard app (`evalkit leaderboard` serves it through served.py).

Pages are registered with st.navigation so their order and titles are ours rather than file names',
and so AppTest can switch between them by path. This file sits alone in entry/ (with served.py)
because Streamlit puts the entry script's folder first on sys.path.

Access is decided here, on every rerun, for every page at once (admin_session.py): a session without
the admin link, once the result pages need it, gets a navigation holding only Annotate and a front page
that says which link to open, so no other page's script runs, whatever URL it asks for.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from evalkit.core.errors import EvalkitError
from evalkit.leaderboard.admin_session import LOCKED, WRONG_ADMIN_LINK, is_admin, presented_admin_token, results_need_admin
from evalkit.leaderboard.store_access import current_reader

VIEWS = Path(__file__).resolve().parents[1] / "views"

st.set_page_config(page_title="evalkit leaderboard", page_icon=":material/leaderboard:", layout="wide")


def annotate() -> st.Page:
    return st.Page(VIEWS / "annotate.py", title="Annotate", icon=":material/rate_review:", url_path="annotate")


def locked() -> None:
    """The front page of a session without the admin link: annotators' links go to /annotate."""
    st.title("evalkit leaderboard")
    st.info(LOCKED, icon=":material/lock:")


try:
    store = current_reader()
except EvalkitError as exc:  # the store went away (or became unreadable) after `evalkit leaderboard` checked it
    st.error(str(exc), icon=":material/error:")
    st.stop()
if results_need_admin(store) and not is_admin(store):
    if presented_admin_token() is not None:
        st.warning(WRONG_ADMIN_LINK, icon=":material/lock:")
    # No sidebar: an annotator has nowhere else to go, and the other pages are not registered at all.
    st.navigation([st.Page(locked, title="evalkit leaderboard", default=True), annotate()], position="hidden").run()
    st.stop()

pages = [
    st.Page(VIEWS / "leaderboard.py", title="Leaderboard", icon=":material/leaderboard:", url_path="leaderboard", default=True),
    st.Page(VIEWS / "checkpoints.py", title="Checkpoints", icon=":material/timeline:", url_path="checkpoints"),
    st.Page(VIEWS / "compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    annotate(),
    st.Page(VIEWS / "agreement.py", title="Agreement", icon=":material/handshake:", url_path="agreement"),
    st.Page(VIEWS / "judges.py", title="Judges", icon=":material/gavel:", url_path="judges"),
    st.Page(VIEWS / "ratings.py", title="Ratings", icon=":material/grading:", url_path="ratings"),
    st.Page(VIEWS / "experiments.py", title="Experiments", icon=":material/science:", url_path="experiments"),
]
st.navigation(pages).run()
