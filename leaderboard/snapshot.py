"""A snapshot: the summaries the pages show, and the small tables they name things with.

Summaries with bootstrap intervals over a large store cost seconds to minutes (1,000 checkpoints and
5M judgments on PostgreSQL: about a minute of GROUP BY), so they are computed once per store state,
off the page's thread (see cache.py), and written to a Parquet directory so a restarted server starts
from the last snapshot. Pages only slice and format what is here.

How one is built (snapshot_build.py): the summaries from the database's per-prompt tallies, without
reading a judgment row; the row figures (length-controlled win rates, judge bias, length bins) after,
from a pass over the rows a few models at a time. A page that shows rows reads them on demand
(judged_rows.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evalkit.core.records import JUDGE_COLUMNS
from evalkit.files.atomic_directory import directory_replaced
from evalkit.results.agreement import BIAS_COLUMNS
from evalkit.stats.length_controlled import LC_FIELDS

SNAPSHOT_VERSION = 7  # bump when a table's columns change: older saved snapshots are then rebuilt, not misread
# 7: built from the database's tallies; judge_bias and length_bins arrive with the LC table (row figures)
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
LENGTH_BIN_COLUMNS = [*JUDGE_COLUMNS, "length_difference", "preference", "n"]  # tables.length_bins


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
    # The row figures (row_figures.py), empty until computed: `evalkit agreement`'s per-judge position
    # consistency and length bias, the length-bias plot's points, every comparing judge's LC win rates
    judge_bias: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BIAS_COLUMNS))
    length_bins: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LENGTH_BIN_COLUMNS))
    lc: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LC_COLUMNS))
    source: str = ""  # the store's URL, to read rows from on demand; never saved (it may hold a password)

    @property
    def has_row_figures(self) -> bool:
        """Whether the row figures are in: every comparing group has an LC row (a value or its reason)."""
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


def scopes_of(prompt_sets: pd.DataFrame, judged: set[str]) -> dict[str, frozenset[str]]:
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


# ---- persistence ---------------------------------------------------------------------------------


def save(snapshot: Snapshot, directory: Path) -> None:
    """Write atomically: a crash mid-write leaves the previous snapshot in place."""
    with directory_replaced(directory) as staging:
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
