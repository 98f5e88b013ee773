"""A snapshot: the summaries the pages show, and the small tables they name things with.

Reading a large store is the slow part of the app (100 checkpoints x 805 prompts x 3 judges is
~480k judgments, ~2 s through `evalkit.results.reading`), and summaries with bootstrap intervals cost
seconds more. So both are computed once per store state, off the page's thread (see cache.py), and
written to a Parquet directory so a restarted server starts from the last snapshot instead of from
the raw judgments. Pages only slice and format what is here.

The judgment rows the summaries come from are not kept: at 5M judgments they took ~3.5 GB in the
server. The snapshot is built in the worker process (worker.py), which keeps the comparing rows only
until their length-controlled win rates are in; a page that shows rows reads them on demand
(judged_rows.py).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.leaderboard.judged_rows import judged_tables
from evalkit.leaderboard.tables import length_bins
from evalkit.results.agreement import BIAS_COLUMNS, judge_biases
from evalkit.results.combined import DrawDesign, combined_win_rates, draw_designs, with_combined
from evalkit.results.decodings import decodings as read_decodings
from evalkit.results.summary import Scope, select, summarize
from evalkit.results.tables import PAIRWISE_COLUMNS, Tables
from evalkit.stats.length_controlled import LC_FIELDS
from evalkit.stats.summary import summarize_pairwise
from evalkit.store import Store
from evalkit.store import annotations as annotation_store
from evalkit.store.catalog_reads import model_rows, prompt_set_members, prompt_texts

SNAPSHOT_VERSION = 6  # bump when a table's columns change: older saved snapshots are then rebuilt, not misread
# 6: no judgment rows (pairwise, alpaca, likert); `pairs` counts the rows of each compared pair
# 5: `pairwise_summary` carries the combined (human + judge) win rate where human labels exist
# 4: `lc` holds every comparing judge's LC win rate (not only alpaca_eval's) with its standard error and
#    the reason it is withheld
ALL_PROMPTS = "All prompts"
TABLES = (
    "models",
    "prompts",
    "prompt_sets",
    "decodings",
    "pairs",
    "pairwise_summary",
    "likert_summary",
    "judge_bias",
    "length_bins",
    "lc",
)
REASONS = "invalid_reasons"  # summaries' {reason: count} per row: JSON text in Parquet
LC_KEYS = ["scope", "judge_kind", "judge_model", "judge_spec_hash", "model_id", "decoding", "baseline_id", "baseline_decoding"]
LC_COLUMNS = [*LC_KEYS, *LC_FIELDS]


@dataclass(frozen=True)
class Snapshot:
    token: str
    built_at: float
    build_seconds: float
    models: pd.DataFrame  # id, name, run, epoch, path
    prompts: pd.DataFrame  # hash, instruction, context (JSON of the turns before the question; "" single-turn)
    prompt_sets: pd.DataFrame  # set_name, prompt_hash
    decodings: pd.DataFrame  # decoding (hash), label
    pairs: pd.DataFrame  # model_id, baseline_id, n: comparing judges' rows of each (model, baseline), most first
    # results.summary.summarize(...).pairwise per scope, with `scope` (and results.combined's figures)
    pairwise_summary: pd.DataFrame
    likert_summary: pd.DataFrame  # results.summary.summarize(...).single per scope, with `scope`
    judge_bias: pd.DataFrame  # `evalkit agreement`'s per-judge position consistency and length bias
    length_bins: pd.DataFrame  # tables.length_bins: the length-bias plot's points
    lc: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LC_COLUMNS))  # length_control_table
    source: str = ""  # the store's URL, to read rows from on demand; never saved (it may hold a password)

    @property
    def has_lc(self) -> bool:
        return not self.lc.empty

    @property
    def has_comparisons(self) -> bool:
        return not self.pairs.empty

    def scopes(self) -> list[str]:
        return list(
            dict.fromkeys(
                self.pairwise_summary.get("scope", pd.Series(dtype=object)).tolist()
                + self.likert_summary.get("scope", pd.Series(dtype=object)).tolist()
            )
        ) or [ALL_PROMPTS]


def _scopes(prompt_sets: pd.DataFrame, judged: set[str]) -> dict[str, frozenset[str]]:
    """ "All prompts" plus each stored set that shares prompts with the judgments; a set equal to "all"
    (the common case: one set) is not summarised twice."""
    scopes: dict[str, frozenset[str]] = {ALL_PROMPTS: frozenset(judged)}
    seen = {frozenset(judged)}
    for name, members in prompt_sets.groupby("set_name")["prompt_hash"]:
        hashes = frozenset(members) & frozenset(judged)
        if hashes and hashes not in seen:
            scopes[str(name)] = hashes
            seen.add(hashes)
    return scopes


def _summaries(
    tables: Tables, scopes: dict[str, frozenset[str]], human_labels: pd.DataFrame, designs: Mapping[int, DrawDesign]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The results layer's summary of each scope, with the combined win rate where `human_labels`
    (store.annotations.labels; `designs`: informative batches' draws) cover a row: the numbers
    `evalkit stats summary` prints."""
    pair_parts, likert_parts = [], []
    for scope, hashes in scopes.items():
        summary = summarize(tables, Scope(prompt_hashes=hashes))
        if not summary.pairwise.empty:
            comparisons = select(tables, Scope(prompt_hashes=hashes)).comparisons
            combined = combined_win_rates(comparisons, human_labels, designs=designs)
            pair_parts.append(with_combined(summary.pairwise, combined).assign(scope=scope))
        if not summary.single.empty:
            likert_parts.append(summary.single.assign(scope=scope))
    return (
        pd.concat(pair_parts, ignore_index=True) if pair_parts else pd.DataFrame(columns=["scope"]),
        pd.concat(likert_parts, ignore_index=True) if likert_parts else pd.DataFrame(columns=["scope"]),
    )


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [frame for frame in frames if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _pairs(comparisons: pd.DataFrame) -> pd.DataFrame:
    counts = comparisons.groupby(["model_id", "baseline_id"]).size().sort_values(ascending=False, kind="stable")
    return (
        counts.rename("n").reset_index().astype(np.int64)
        if len(counts)
        else pd.DataFrame(columns=["model_id", "baseline_id", "n"])
    )


def build_snapshot(store: Store, token: str) -> Snapshot:
    """Read every judge table and summarise it per scope (all prompts, each prompt set)."""
    started = time.perf_counter()
    return _built(store, token, judged_tables(store), started)


def _built(store: Store, token: str, tables: Tables, started: float) -> Snapshot:
    models = model_rows(store)
    prompt_sets = prompt_set_members(store)
    pairwise, alpaca, likert = tables.pairwise, tables.alpaca, tables.single
    judged = set().union(*(frame["prompt_hash"] for frame in (pairwise, alpaca, likert)))
    prompts = _prompts(store, judged)
    labels = annotation_store.labels(store)
    designs = draw_designs(store, sorted({int(b) for b in labels["batch_id"]})) if not labels.empty else {}
    pair_summary, likert_summary = _summaries(tables, _scopes(prompt_sets, judged), labels, designs)
    both = _concat([pairwise, alpaca], PAIRWISE_COLUMNS)
    bias = pd.DataFrame(judge_biases(both), columns=BIAS_COLUMNS)
    decodings = read_decodings(store)[["decoding", "label"]]
    return Snapshot(
        token,
        time.time(),
        time.perf_counter() - started,
        models,
        prompts,
        prompt_sets,
        decodings,
        _pairs(both),
        pair_summary,
        likert_summary,
        bias,
        length_bins(both),
        source=store.url,
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


# The judge tables of the last snapshot built in this (worker) process, kept for its length-controlled
# win rates, the next job (reading 5M rows again would take a minute); dropped once those are in.
_kept: dict[tuple[str, str], Tables] = {}


def build_snapshot_at(url: str, token: str) -> Snapshot:
    """build_snapshot for a store given by URL (what the worker process receives: a Store holds an engine)."""
    store = Store(url, read_only=True)  # a reader: works on read-only media and never upgrades a store
    try:
        started = time.perf_counter()
        tables = judged_tables(store)
        _kept.clear()
        _kept[(url, token)] = tables
        return _built(store, token, tables, started)
    finally:
        store.close()


def comparisons_at(url: str, token: str = "") -> pd.DataFrame:
    """The rows of every judge that compares with a baseline: the ones kept by the last build of this
    token (handed over once, then dropped), else read now."""
    kept = _kept.pop((url, token), None)
    if kept is not None:
        return kept.comparisons
    store = Store(url, read_only=True)
    try:
        return judged_tables(store).comparisons
    finally:
        store.close()


def length_control_at(url: str, token: str, prompt_sets: pd.DataFrame, judged: set[str]) -> pd.DataFrame:
    """length_control_table of the store at `url` (the worker's job: the rows stay in its process)."""
    return length_control_table(comparisons_at(url, token), prompt_sets, judged)


def length_control_table(comparisons: pd.DataFrame, prompt_sets: pd.DataFrame, judged: set[str]) -> pd.DataFrame:
    """Length-controlled win rates of every comparing judge, per scope: the summary's own LC fields
    (value, standard error, variant, and why it is withheld), so the leaderboard shows what `evalkit
    stats summary` prints. One GLM fit per model and baseline, ~0.05 s each: the slowest statistic,
    so it is added after the snapshot is already being served."""
    parts = []
    for scope, hashes in _scopes(prompt_sets, judged).items():
        part = comparisons[comparisons["prompt_hash"].isin(hashes)]
        if not part.empty:
            summary = summarize_pairwise(part, n_resamples=1, length_controlled=True)  # only its LC columns are kept
            parts.append(summary.assign(scope=scope)[LC_COLUMNS])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LC_COLUMNS)


def with_length_control(snapshot: Snapshot, lc: pd.DataFrame | None = None) -> Snapshot:
    """The snapshot plus its length-controlled win rates (computed here, from its store's rows, unless given)."""
    if not snapshot.has_comparisons:
        return snapshot
    if lc is None:
        lc = length_control_at(snapshot.source, snapshot.token, snapshot.prompt_sets, set(snapshot.prompts["hash"]))
    return replace(snapshot, lc=lc) if not lc.empty else snapshot


# ---- persistence ---------------------------------------------------------------------------------


def save(snapshot: Snapshot, directory: Path) -> None:
    """Write atomically: a crash mid-write leaves the previous snapshot in place."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=directory.parent))
    try:
        for name in TABLES:
            frame = getattr(snapshot, name)
            if REASONS in frame.columns:  # a column of dicts (keys vary by row): Parquet keeps it as JSON text
                frame = frame.assign(**{REASONS: [json.dumps(r if isinstance(r, dict) else {}) for r in frame[REASONS]]})
            frame.to_parquet(staging / f"{name}.parquet", index=False)
        meta = {
            "version": SNAPSHOT_VERSION,
            "token": snapshot.token,
            "built_at": snapshot.built_at,
            "build_seconds": snapshot.build_seconds,
        }
        (staging / "meta.json").write_text(json.dumps(meta))
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        staging.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def load(directory: Path) -> Snapshot | None:
    """The saved snapshot, or None when there is none or it cannot be read (it is only a cache)."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
        if meta.get("version") != SNAPSHOT_VERSION:
            return None
        frames = {name: pd.read_parquet(directory / f"{name}.parquet") for name in TABLES}
        for name, frame in frames.items():
            if REASONS in frame.columns:
                frames[name] = frame.assign(**{REASONS: [json.loads(text) for text in frame[REASONS]]})
    except (OSError, ValueError, KeyError):
        return None
    return Snapshot(meta["token"], meta["built_at"], meta["build_seconds"], **frames)
