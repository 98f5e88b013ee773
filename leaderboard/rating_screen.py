"""The absolute-rating screen (LIMA Figure 3's protocol): one question and one answer, rated Fail,
Pass or Excellent. Blind like the pairwise screen: no model or batch name is shown."""

from __future__ import annotations

import streamlit as st

from evalkit.leaderboard.annotator_session import still_valid
from evalkit.leaderboard.conversation_view import show_question
from evalkit.store import ratings
from evalkit.store.invitations import Invitation
from evalkit.store.store import Store

PREAMBLE = (
    "Imagine that you have a super-intelligent AI assistant, and that you require help with the "
    "following question. How well does this answer meet your needs?"
)


def _record(store: Store, invitation: Invitation, item_id: int, label: str) -> None:
    """Button callback: the name and batch come from the invitation, checked again at the click."""
    stored = still_valid(store, invitation) and ratings.add_rating(
        store, invitation.annotator, item_id, label, batch=invitation.batch_id, source=invitation.label_source
    )
    st.session_state["last_label"] = (item_id, label if stored else None)


def show(store: Store, invitation: Invitation) -> None:
    last = st.session_state.pop("last_label", None)
    if last is not None and last[1] is None:
        st.warning("That answer was already rated by you or has all its ratings; nothing was changed.")
    done, remaining = ratings.rating_progress(store, invitation.batch_id, invitation.annotator)
    st.progress(done / max(done + remaining, 1), text=f"You rated {done}; {remaining} left for you in this batch")
    item = ratings.next_rating_item(store, invitation.batch_id, invitation.annotator)
    if item is None:
        st.success("Nothing left for you in this batch. Thank you!")
        return
    st.write(PREAMBLE)
    show_question(item.instruction, item.context)
    with st.container(border=True):
        st.markdown("**Answer:**")
        st.text(item.answer)
    st.write("Rate this answer:")
    for column, (label, text) in zip(st.columns(len(ratings.RATINGS)), ratings.RATINGS.items()):
        column.button(text, key=f"rate_{label}", on_click=_record, args=(store, invitation, item.item_id, label), width="stretch")
