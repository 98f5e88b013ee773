"""Sidebar filters shared by pages. Streamlit forgets a widget's value when a page without it runs, so
each choice is also kept under its own session key and restored when the next page draws the widget:
the prompt set and judges picked on the Leaderboard are still picked on Checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import streamlit as st

from evalkit.judges.results import ALPACA_KIND
from evalkit.leaderboard import tables
from evalkit.leaderboard.snapshot import Snapshot

T = TypeVar("T")


def remembered_select(label: str, options: Sequence[T], key: str, format_func: Callable[[T], str] = str,
                      container=st.sidebar, help: str | None = None, default: T | None = None) -> T | None:  # type: ignore[no-untyped-def]
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


def results_selection(snapshot: Snapshot) -> tables.Selection:
    """Prompt set, baseline and one judge of each kind, from the sidebar."""
    labels = judge_labels(snapshot)
    st.sidebar.header("Filters")
    scope = remembered_select("Prompt set", snapshot.scopes(), "scope",
                              help="Prompts judged, or one stored prompt set")
    base = tables.baselines(snapshot)
    baseline_names = dict(zip(base["baseline_id"].astype(int), base["baseline"]))
    baseline_id = remembered_select("Baseline", list(baseline_names), "baseline", baseline_names.__getitem__,
                                    help="The model every comparison is against")

    def pick(kind_filter: Callable[[str], bool], label: str, key: str) -> tables.JudgeKey | None:
        options = [k for k in labels if kind_filter(k[0])]
        return remembered_select(label, options, key, labels.__getitem__)

    pair_kinds = {k[0] for k in tables.judge_keys(snapshot.pairwise_summary)}
    single_kinds = {k[0] for k in tables.judge_keys(snapshot.likert_summary)}
    alpaca = pick(lambda kind: kind == ALPACA_KIND, "AlpacaEval judge", "alpaca_judge")
    pairwise = pick(lambda kind: kind in pair_kinds and kind != ALPACA_KIND, "Pairwise judge", "pairwise_judge")
    likert = pick(lambda kind: kind in single_kinds, "Likert judge", "likert_judge")
    return tables.Selection(scope or snapshot.scopes()[0], baseline_id, pairwise, alpaca, likert)
