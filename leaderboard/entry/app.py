"""Entry script of the leaderboard app (`evalkit leaderboard` runs `streamlit run` on this file).

Pages are registered with st.navigation so their order and titles are ours rather than file names',
and so AppTest can switch between them by path. This file sits alone in entry/ because Streamlit puts
the entry script's folder first on sys.path.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).resolve().parents[1] / "views"

st.set_page_config(page_title="evalkit leaderboard", page_icon=":material/leaderboard:", layout="wide")

pages = [
    st.Page(VIEWS / "leaderboard.py", title="Leaderboard", icon=":material/leaderboard:", url_path="leaderboard", default=True),
    st.Page(VIEWS / "checkpoints.py", title="Checkpoints", icon=":material/timeline:", url_path="checkpoints"),
    st.Page(VIEWS / "compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page(VIEWS / "annotate.py", title="Annotate", icon=":material/rate_review:", url_path="annotate"),
    st.Page(VIEWS / "agreement.py", title="Agreement", icon=":material/handshake:", url_path="agreement"),
    st.Page(VIEWS / "judges.py", title="Judges", icon=":material/gavel:", url_path="judges"),
    st.Page(VIEWS / "ratings.py", title="Ratings", icon=":material/grading:", url_path="ratings"),
    st.Page(VIEWS / "experiments.py", title="Experiments", icon=":material/science:", url_path="experiments"),
]
st.navigation(pages).run()
