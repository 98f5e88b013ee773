"""A question as an annotator or a reviewer sees it: for a multi-turn prompt, the conversation so far
(system message and earlier turns) before the final question, as the judges are shown it. Every
message is plain text (st.text): a prompt is never rendered as Markdown (plain_text.py says why)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import streamlit as st

from evalkit.core.conversation import ROLE_NAMES
from evalkit.leaderboard.plain_text import escape_markdown


def show_question(instruction: str, context: str | Sequence[dict[str, str]]) -> None:
    """`context`: the earlier messages, as a list or as the snapshot's JSON text ("" when single-turn)."""
    turns = json.loads(context) if isinstance(context, str) and context else context
    if turns:
        with st.container(border=True):
            st.caption("The conversation so far")
            for message in turns:
                st.markdown(f"**{escape_markdown(ROLE_NAMES.get(message['role'], message['role']))}:**")
                st.text(message["content"])
    st.markdown("**Question:**")
    st.text(instruction)
