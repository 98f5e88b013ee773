"""Compare: two models prompt by prompt. The table shows every judge's verdict in both orders and the
human labels, filterable to the disagreements worth reading; below it, one prompt in full: both
answers side by side, each judgment with its rationale, and each human label. Prompts, answers and
rationales are plain text; names inside Markdown are escaped (plain_text.py)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.core.vocabulary import MODEL_VIEW
from evalkit.leaderboard import data, filters, tables
from evalkit.leaderboard.compare_rows import FLIP, compare_rows, humans_of_pair
from evalkit.leaderboard.conversation_view import show_question
from evalkit.leaderboard.plain_text import escape_markdown
from evalkit.leaderboard.store_access import PageTimer

timer = PageTimer()
st.title("Compare")
served = data.results()
data.freshness_note(served)
snapshot = served.snapshot
labels = filters.judge_labels(snapshot)
names = dict(zip(snapshot.models["id"].astype(int), snapshot.models["name"].astype(str)))
if len(names) < 2:
    st.info("The store needs at least two models to compare.")
    timer.footer()
    st.stop()

# Default pair: the most judged (model, baseline) pair, so the page opens on something to read.
pairs = snapshot.pairs
top = (int(pairs["model_id"].iloc[0]), int(pairs["baseline_id"].iloc[0])) if not pairs.empty else tuple(list(names)[:2])
ids = list(names)
pick_left, pick_right = st.columns(2)
left = filters.remembered_select("Left model (L)", ids, "compare_left", names.__getitem__, pick_left, default=int(top[0]))
right_options = [i for i in ids if i != left]
right = filters.remembered_select(
    "Right model (R)", right_options, "compare_right", names.__getitem__, pick_right, default=int(top[1])
)
assert left is not None and right is not None

decoding_names = tables.decoding_labels(snapshot)
used = tables.generation_sets(snapshot)
present = [d for d in decoding_names if d in set(used.loc[used["model_id"].isin([left, right]), "decoding"])]
decoding = None
if len(present) > 1:  # two configurations of one model are never mixed: compare one at a time
    decoding = filters.remembered_select("Decoding", present, "compare_decoding", decoding_names.__getitem__, st)
rows, judge_columns = compare_rows(snapshot, data.pair_rows(served, (left, right)), left, right, data.labels(), labels, decoding)
if rows.empty:
    st.info(
        f"No judgments or human labels compare {escape_markdown(names[left])} with {escape_markdown(names[right])}. "
        "Judge one against the other "
        "(`evalkit judge --baseline`), or pick a model and its baseline."
    )
    timer.footer()
    st.stop()

flags = st.columns(3)
only_flip = flags[0].checkbox("Order flips", help="A judge's verdict changed when the answers swapped places")
only_human = flags[1].checkbox("Judge ≠ human", help="A judge disagrees with the human majority")
only_invalid = flags[2].checkbox("Invalid verdicts", help="A judge's reply could not be parsed")
shown = rows
for active, column in ((only_flip, "order_flip"), (only_human, "judge_vs_human"), (only_invalid, "invalid")):
    if active:
        shown = shown[shown[column]]
st.caption(
    f"{len(shown)} of {len(rows)} prompts · verdicts are L's result (win / tie / loss); “L first” = L's answer shown as Answer A."
)
st.dataframe(
    shown.drop(columns=["prompt_hash"]),
    hide_index=True,
    width="stretch",
    height=320,
    column_config={"instruction": st.column_config.TextColumn("Prompt", width="large")},
)
if shown.empty:
    timer.footer()
    st.stop()

position = st.selectbox(
    "Prompt",
    list(range(len(shown))),
    format_func=lambda i: f"{i + 1}. {str(shown.iloc[i]['instruction'])[:100]}",
    key="compare_prompt",
)
item = shown.iloc[int(position or 0)]
conversation = snapshot.prompts.set_index("hash")["context"].get(item["prompt_hash"], "")
show_question(str(item["instruction"]), conversation)
texts = data.generation_texts((left, right), str(item["prompt_hash"]))
answer_columns = st.columns(2)
for answer_column, model_id in zip(answer_columns, (left, right)):
    answer = texts[
        (texts["model_id"] == model_id)
        & (texts["sample"] == 0)
        & ((texts["decoding_hash"] == decoding) if decoding is not None else True)
    ].tail(1)
    with answer_column.container(border=True):
        st.markdown(f"**{'L' if model_id == left else 'R'} · {escape_markdown(names[model_id])}**")
        st.text(answer["text"].iloc[0] if not answer.empty else "(no answer stored)")

st.subheader("Judgments")
judged = data.judgments_for((left, right), str(item["prompt_hash"]))
paired = judged[judged["baseline_id"].isin([left, right])]
for row in paired.itertuples():
    model, baseline = names[row.model_id], names[int(row.baseline_id)]
    first = model if row.order == "AB" else baseline
    if not row.valid:
        verdict = "invalid"
    elif isinstance(row.verdict, str):  # a choice in the shown order
        view = MODEL_VIEW.get((row.order, row.verdict))
        verdict = f"{row.verdict} (L {view if row.model_id == left else FLIP.get(view, view)})"
    else:  # a weighted preference (AlpacaEval): 1 + P(the evaluated model's answer is better)
        verdict = f"preference {row.score:.2f} (2 = {model} better)"
    with st.expander(escape_markdown(f"{row.judge_kind} · {row.judge_model} — {first} shown first: {verdict}")):
        st.text(row.raw)
for row in judged[judged["baseline_id"].isna()].itertuples():
    with st.expander(
        escape_markdown(
            f"{row.judge_kind} · {row.judge_model} — {names[row.model_id]}: "
            f"{row.score if row.valid else 'invalid'} (sample {row.sample})"
        )
    ):
        st.text(row.raw)
if judged.empty:
    st.caption("No judgments of these two answers.")

humans = humans_of_pair(data.labels(), left, right, decoding)
humans = humans[humans["prompt_hash"] == item["prompt_hash"]]
if not humans.empty:
    st.subheader("Human labels")
    results_of_left = [o if m == left else FLIP.get(o, o) for o, m in zip(humans["outcome"], humans["model_id"])]
    st.dataframe(
        pd.DataFrame(
            {
                "annotator": humans["annotator"],
                "label (as shown)": humans["label"],
                "shown first": [
                    names[m] if o == "AB" else names[b]
                    for o, m, b in zip(humans["order"], humans["model_id"], humans["baseline_id"])
                ],
                "L's result": results_of_left,
                "time": humans["created_at"],
            }
        ),
        hide_index=True,
        width="stretch",
    )
timer.footer()
