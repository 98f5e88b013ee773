"""A question as an annotator or a reviewer sees it: for a multi-turn prompt, the conversation so far
(system message and earlier turns) before the final question, as the judges are shown it."""

from __future__ import annotations

import json
from collections.abc import Sequence

import streamlit as st

from evalkit.conversation import ROLE_NAMES


def show_question(instruction: str, context: str | Sequence[dict[str, str]]) -> None:
    """`context`: the earlier messages, as a list or as the snapshot's JSON text ("" when single-turn)."""
    turns = json.loads(context) if isinstance(context, str) and context else context
    if turns:
        with st.container(border=True):
            st.caption("The conversation so far")
            for message in turns:
                st.markdown(f"**{ROLE_NAMES.get(message['role'], message['role'])}:**")
                st.text(message["content"])
    st.markdown(f"**Question:** {instruction}")
