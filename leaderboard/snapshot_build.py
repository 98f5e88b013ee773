"""Building a snapshot: its summaries from the database's per-prompt tallies, its row figures later.

The summaries (win rates, grades, their intervals, invalid reasons, combined win rates) are sums over
(judge, generation set, baseline, prompt) cells, which the database tallies with GROUP BY
(evalkit.results.tally_summary); no judgment row enters Python. Reading every row into pandas instead
peaked at 4.8 GB at 5M judgments. The tallies are kept beside the snapshot (tally_files.py), so the
build after a checkpoint is judged reads only that checkpoint's tallies.

The figures that need every row (length-controlled win rates, judges' position and length bias, the
length-bias plot) come after, from a pass over the rows a few models at a time (row_figures.py): the
snapshot is served without them meanwhile, and pages say they are being computed.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.leaderboard.row_figures import RowFigures, row_figures_at
from evalkit.leaderboard.snapshot import Snapshot, scopes_of
from evalkit.leaderboard.tally_files import load_tallies, save_tallies
from evalkit.results.combined import combined_win_rates, draw_designs, with_combined
from evalkit.results.decodings import decodings as read_decodings
from evalkit.results.tally_refresh import refresh_tallies
from evalkit.results.tally_summary import PromptTallies, judge_preferences_of, summarize_tallies
from evalkit.store import Store
from evalkit.store import annotations as annotation_store
from evalkit.store.catalog_reads import model_rows, prompt_set_members, prompt_texts

PAIR_COUNT_COLUMNS = ["model_id", "baseline_id", "n"]


def judged_prompts(tallies: PromptTallies) -> set[str]:
    """Every prompt some judgment is about (valid or not), as the judge tables' rows name them."""
    frames = (tallies.verdict, tallies.preference, tallies.grade)
    return set().union(*(set(frame["prompt_hash"].astype(object)) for frame in frames if not frame.empty))


def compared_pairs(tallies: PromptTallies) -> pd.DataFrame:
    """model_id, baseline_id and `n`, the comparing judges' rows of each, most first (ties in id order)."""
    frames = [frame[["model_id", "baseline_id", "n_rows"]] for frame in (tallies.verdict, tallies.preference) if not frame.empty]
    if not frames:
        return pd.DataFrame(columns=PAIR_COUNT_COLUMNS)
    counts = pd.concat(frames, ignore_index=True).groupby(["model_id", "baseline_id"])["n_rows"].sum()
    counts = counts.sort_values(ascending=False, kind="stable")
    return counts.rename("n").reset_index().astype(np.int64)


def _summaries(store: Store, tallies: PromptTallies, scopes: dict[str, frozenset[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each scope's summary (what `evalkit stats summary` prints), with the combined win rate where
    human labels cover a row."""
    labels = annotation_store.labels(store)
    designs = draw_designs(store, sorted({int(b) for b in labels["batch_id"]})) if not labels.empty else {}
    pair_parts, likert_parts = [], []
    for scope, hashes in scopes.items():
        summary = summarize_tallies(tallies, hashes)
        if not summary.pairwise.empty:
            combined = (
                combined_win_rates(None, labels, designs=designs, judged=judge_preferences_of(tallies, hashes))
                if not labels.empty
                else pd.DataFrame()
            )
            pair_parts.append(with_combined(summary.pairwise, combined).assign(scope=scope))
        if not summary.single.empty:
            likert_parts.append(summary.single.assign(scope=scope))
    return (
        pd.concat(pair_parts, ignore_index=True) if pair_parts else pd.DataFrame(columns=["scope"]),
        pd.concat(likert_parts, ignore_index=True) if likert_parts else pd.DataFrame(columns=["scope"]),
    )


def _prompts(store: Store, judged: set[str]) -> pd.DataFrame:
    """hash, instruction and the conversation before it (JSON; "" for a single-turn prompt) of the judged prompts."""
    from evalkit.core.records import context_of

    frame = prompt_texts(store)
    frame = frame[frame["hash"].isin(judged)]
    contexts = (context_of(list(m)) for m in frame["messages"])
    context = [json.dumps(list(c)) if c else "" for c in contexts]
    return pd.DataFrame(
        {
            "hash": frame["hash"].astype(object).to_numpy(),
            "instruction": frame["instruction"].to_numpy(),
            "context": pd.Series(context, dtype=object).to_numpy(),
        }
    )


def snapshot_of(store: Store, token: str, tallies: PromptTallies, started: float) -> Snapshot:
    """The snapshot of a store whose tallies are `tallies`: every summary, no row figures yet."""
    judged = judged_prompts(tallies)
    prompt_sets = prompt_set_members(store)
    pair_summary, likert_summary = _summaries(store, tallies, scopes_of(prompt_sets, judged))
    return Snapshot(
        token,
        time.time(),
        time.perf_counter() - started,
        model_rows(store),
        _prompts(store, judged),
        prompt_sets,
        read_decodings(store)[["decoding", "label"]],
        compared_pairs(tallies),
        pair_summary,
        likert_summary,
        source=store.url,
    )


def build_snapshot(store: Store, token: str) -> Snapshot:
    """The snapshot of the store now, every tally read from the database."""
    started = time.perf_counter()
    return snapshot_of(store, token, refresh_tallies(store).state.tallies, started)


def build_snapshot_at(url: str, token: str, tallies_at: Path | None = None) -> Snapshot:
    """build_snapshot for a store given by URL (what the worker process receives: a Store holds an
    engine), starting from the tallies saved at `tallies_at` and saving them back, refreshed."""
    store = Store(url, read_only=True)  # a reader: works on read-only media and never upgrades a store
    try:
        started = time.perf_counter()
        previous = load_tallies(tallies_at) if tallies_at is not None else None
        refreshed = refresh_tallies(store, previous)
        built = snapshot_of(store, token, refreshed.state.tallies, started)
        state = refreshed.state
        unchanged = previous is not None and (state.max_judgment_id, state.n_uses) == (previous.max_judgment_id, previous.n_uses)
        if tallies_at is not None and not unchanged:
            save_tallies(state, tallies_at)
        return built
    finally:
        store.close()


def with_row_figures(snapshot: Snapshot, figures: RowFigures | None = None) -> Snapshot:
    """The snapshot plus its row figures (computed here, from its store's rows, unless given)."""
    if not snapshot.has_comparisons:
        return snapshot
    if figures is None:
        figures = row_figures_at(snapshot.source, scopes_of(snapshot.prompt_sets, set(snapshot.prompts["hash"])), snapshot.pairs)
    return replace(snapshot, lc=figures.lc, judge_bias=figures.judge_bias, length_bins=figures.length_bins)
