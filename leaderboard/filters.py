"""Sidebar filters shared by pages. Streamlit forgets a widget's value when a page without it runs, so
each choice is also kept under its own session key and restored when the next page draws the widget:
the prompt set and judges picked on the Leaderboard are still picked on Checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from evalkit.leaderboard import tables
from evalkit.leaderboard.snapshot import Snapshot

T = TypeVar("T")


def remembered_select(
    label: str,
    options: Sequence[T],
    key: str,
    format_func: Callable[[T], str] = str,
    container: DeltaGenerator = st.sidebar,
    help: str | None = None,
    default: T | None = None,
) -> T | None:
    """A selectbox whose choice survives page switches (kept under `keep_<key>`)."""
    if not options:
        return None
    kept = st.session_state.get(f"keep_{key}", default)
    index = list(options).index(kept) if kept in options else 0

    choice = container.selectbox(label, options, index=index, format_func=format_func, key=f"w_{key}", help=help)
    st.session_state[f"keep_{key}"] = choice
    return choice


def judge_labels(snapshot: Snapshot) -> dict[tables.JudgeKey, str]:
    keys = tables.judge_keys(snapshot.pairwise_summary) + tables.judge_keys(snapshot.likert_summary)
    return {key: tables.judge_label(key, keys) for key in keys}


ALL_DECODINGS = "every decoding (a row each)"


def results_selection(snapshot: Snapshot) -> tables.Selection:
    """Prompt set, decoding, baseline and one judge of each output (evalkit.core.vocabulary), from the sidebar."""
    labels = judge_labels(snapshot)
    st.sidebar.header("Filters")
    scope = remembered_select("Prompt set", snapshot.scopes(), "scope", help="Prompts judged, or one stored prompt set")
    decoding_names = {ALL_DECODINGS: ALL_DECODINGS, **tables.decoding_labels(snapshot)}
    decoding = remembered_select(
        "Decoding",
        list(decoding_names),
        "decoding",
        decoding_names.__getitem__,
        help="A result is about one decoding configuration: each is its own row",
    )
    base = tables.baselines(snapshot)
    baseline_names = {
        (int(i), str(d)): name for i, d, name in zip(base["baseline_id"], base["baseline_decoding"], base["baseline"])
    }
    baseline = remembered_select(
        "Baseline", list(baseline_names), "baseline", baseline_names.__getitem__, help="The answers every comparison is against"
    )

    def pick(summary: object, output: str | None, label: str, key: str) -> tables.JudgeKey | None:
        options = [k for k in labels if k in tables.judge_keys(summary, output=output)]
        return remembered_select(label, options, key, labels.__getitem__)

    alpaca = pick(snapshot.pairwise_summary, "preference", "Preference judge (AlpacaEval)", "alpaca_judge")
    pairwise = pick(snapshot.pairwise_summary, "verdict", "Pairwise judge", "pairwise_judge")
    likert = pick(snapshot.likert_summary, None, "Grading judge (Likert)", "likert_judge")
    return tables.Selection(
        scope or snapshot.scopes()[0], baseline, pairwise, alpaca, likert, None if decoding in (None, ALL_DECODINGS) else decoding
    )
