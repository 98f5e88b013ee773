"""Annotate: LIMA's human interface (seed 004, Figure 11), one question at a time.

Blind by construction: the screen never shows a model or batch name, and the A/B order was drawn
per item when the batch was made. Labels are written once and never edited (see
evalkit/store/annotations.py), so the page needs no "undo" and nobody can change someone else's label.
"""

from __future__ import annotations

import streamlit as st

from evalkit.leaderboard.conversation_view import show_question
from evalkit.leaderboard.store_access import PageTimer, current_store
from evalkit.store import annotations

timer = PageTimer()
PREAMBLE = ("Imagine that you have a super-intelligent AI assistant, and that you require help with the "
            "following question. Which answer best satisfies your needs?")
CHOICES = (("A", "Answer A is significantly better."), ("B", "Answer B is significantly better."),
           ("tie", "Neither is significantly better."))

store = current_store()
st.title("Annotate")


def _ask_name() -> None:
    with st.form("annotator_form"):
        st.write("Your name is stored with each label, so agreement between annotators can be measured.")
        name = st.text_input("Annotator name", key="annotator_input")
        if st.form_submit_button("Start annotating") and name.strip():
            st.session_state["annotator_name"] = name.strip()
            st.rerun()


def _record(annotator: str, item_id: int, label: str) -> None:
    """Button callback: runs before the rerun, so the next screen already shows the next item."""
    stored = annotations.add_label(store, annotator, item_id, label)
    st.session_state["last_label"] = (item_id, label if stored else None)


annotator: str | None = st.session_state.get("annotator_name")
if not annotator:
    _ask_name()
    timer.footer()
    st.stop()

batches = annotations.batches(store)
if batches.empty:
    st.info("No annotation batches yet. Make one with "
            "`evalkit annotate create --models MODEL BASELINE --prompts SET --per-item K`.")
    timer.footer()
    st.stop()

top = st.columns([3, 1])
labels = {int(row.id): f"Batch #{row.id} · {row.prompt_set} · {row.n_items} items" for row in batches.itertuples()}
batch = top[0].selectbox("Batch", list(labels), format_func=labels.__getitem__, key="annotate_batch")
top[1].write(f"Annotating as **{annotator}**")
if top[1].button("Not you? Change name"):
    del st.session_state["annotator_name"]
    st.rerun()

last = st.session_state.pop("last_label", None)
if last is not None:
    if last[1] is None:
        st.warning("That item was already labelled by you or has all its labels; nothing was changed.")
    else:
        st.toast("Label saved")

done, remaining = annotations.progress(store, batch, annotator)
st.progress(done / max(done + remaining, 1), text=f"You labelled {done}; {remaining} left for you in this batch")

item = annotations.next_item(store, batch, annotator)
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
    column.button(text, key=f"choice_{label}", on_click=_record, args=(annotator, item.item_id, label),
                  width="stretch")
timer.footer()
