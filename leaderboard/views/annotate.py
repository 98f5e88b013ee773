"""Annotate: LIMA's human interface (seed 004, Figure 11), one question at a time.

Only through an invitation link (`evalkit annotate invite`): the annotator's name and batch come from
the link's invitation, never from the page, and without a valid link the page shows one line and
nothing of any batch (annotator_session.py). Absolute-rating batches get LIMA's Fail / Pass /
Excellent screen (rating_screen.py).

Blind by construction: the screen never shows a model or batch name, and the A/B order was drawn
per item when the batch was made. Labels are written once and never edited (see
evalkit/store/annotations.py), so the page needs no "undo" and nobody can change someone else's label.
"""

from __future__ import annotations

import streamlit as st

from evalkit.leaderboard import rating_screen
from evalkit.leaderboard.annotator_session import NEEDS_LINK, current_invitation, still_valid
from evalkit.leaderboard.conversation_view import show_question
from evalkit.leaderboard.plain_text import escape_markdown
from evalkit.leaderboard.store_access import PageTimer, current_store
from evalkit.store import annotations as annotation_store
from evalkit.store.invitations import Invitation

timer = PageTimer()
PREAMBLE = (
    "Imagine that you have a super-intelligent AI assistant, and that you require help with the "
    "following question. Which answer best satisfies your needs?"
)
CHOICES = (
    ("A", "Answer A is significantly better."),
    ("B", "Answer B is significantly better."),
    ("tie", "Neither is significantly better."),
)

store = current_store()
st.title("Annotate")


def _record(invitation: Invitation, item_id: int, label: str) -> None:
    """Button callback: runs before the rerun, so the next screen already shows the next item. The name
    comes from the invitation, checked again at the click (a link revoked meanwhile writes nothing)."""
    stored = still_valid(store, invitation) and annotation_store.add_label(
        store, invitation.annotator, item_id, label, source=invitation.label_source
    )
    st.session_state["last_label"] = (item_id, label if stored else None)


invitation = current_invitation(store)
if invitation is None:
    st.info(NEEDS_LINK, icon=":material/link:")
    timer.footer()
    st.stop()
st.caption(f"Annotating as **{escape_markdown(invitation.annotator)}** (from your link)")
if invitation.kind == "absolute":
    rating_screen.show(store, invitation)
    timer.footer()
    st.stop()
batch, annotator = invitation.batch_id, invitation.annotator

last = st.session_state.pop("last_label", None)
if last is not None:
    if last[1] is None:
        st.warning("That item was already labelled by you or has all its labels; nothing was changed.")
    else:
        st.toast("Label saved")

done, remaining = annotation_store.progress(store, batch, annotator)
st.progress(done / max(done + remaining, 1), text=f"You labelled {done}; {remaining} left for you in this batch")

item = annotation_store.next_item(store, batch, annotator)
if item is None:
    st.success("Nothing left for you in this batch. Thank you!")
    timer.footer()
    st.stop()

st.write(PREAMBLE)
show_question(item.instruction, item.context)
answer_columns = st.columns(2)
for column, title, text in zip(answer_columns, ("Answer A", "Answer B"), (item.answer_a, item.answer_b)):
    with column.container(border=True):
        st.markdown(f"**{title}:**")
        st.text(text)
st.write("Comparing these two answers, which answer is better?")
buttons = st.columns(3)
for column, (label, text) in zip(buttons, CHOICES):
    column.button(text, key=f"choice_{label}", on_click=_record, args=(invitation, item.item_id, label), width="stretch")
timer.footer()
