"""The snapshot's figures that need every comparing row (length-controlled win rates, judges' position
and length bias, the length-bias plot's bins), from a pass over the rows that keeps memory bounded.

The summaries come from the database's tallies; these three cannot (a GLM per group, deciles per
judge). Reading every judgment row into pandas at once peaked at 4.8 GB at 5M judgments, so the rows
are read a few models at a time (`judged_tables` with those models' answers and their baselines'):

- LC: groups are per (judge, model, baseline), so a chunk holds whole groups and its LC rows are
  computed right away; only the summary rows are kept;
- judge bias and length bins: per judge over every row, so each chunk leaves only the five numbers a
  row contributes (two per-order verdicts, preference, two lengths) as small codes, and the existing
  `judge_biases` / `length_bins` run once on a frame rebuilt from them: the figures are theirs.

A chunk's read returns the uses between its answers, both ways round; a row is kept by the chunk of
its evaluated model only, so a baseline that is also an evaluated model has its own rows counted once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.core.ordering import natural_sorted
from evalkit.core.records import JUDGE_COLUMNS
from evalkit.core.vocabulary import OUTCOMES
from evalkit.leaderboard.judged_rows import judged_tables
from evalkit.leaderboard.snapshot import LC_COLUMNS
from evalkit.leaderboard.tables import length_bins
from evalkit.results.agreement import BIAS_COLUMNS, judge_biases
from evalkit.stats.length_controlled import LC_FIELDS
from evalkit.stats.summary import PAIRWISE_KEYS, summarize_pairwise
from evalkit.store import Store
from evalkit.store.catalog_reads import model_rows
from evalkit.store.result_reads import generation_ids_of

# ~2.5k comparing rows per model at 833 prompts x 3 judges (two verdict baselines, one preference
# judge): 80 models are ~200k comparing rows at a time. On the bench store (805 prompts) a chunk of 80
# models (193k rows) took ~300 MB above the process's own, one of 20 models ~100 MB, in the same time.
DEFAULT_MODELS_PER_CHUNK = 80
JUDGES = list(JUDGE_COLUMNS)
VERDICT_COLUMNS = ("verdict_ab", "verdict_ba")
LENGTH_COLUMNS = ("model_len", "baseline_len")
EMPTY_TYPES = {"judge": np.int16, "verdict_ab": np.int8, "verdict_ba": np.int8}  # the codes' types (no chunk: no rows)
NO_VERDICT = -1  # code of a missing per-order verdict (an invalid order, or a preference judge's row)


@dataclass(frozen=True)
class RowFigures:
    lc: (
        pd.DataFrame
    )  # the rows of summarize_pairwise per scope (tests/leaderboard/row_reference.py): LC_COLUMNS, per scope in natural order
    judge_bias: pd.DataFrame  # agreement.judge_biases' rows: BIAS_COLUMNS
    length_bins: pd.DataFrame  # tables.length_bins' rows


@dataclass
class _SlimRows:
    """What each comparing row contributes to the judge bias and the length bins, chunk by chunk, as
    small numbers: judge code, per-order verdict codes (index into OUTCOMES), preference, lengths."""

    judges: dict[tuple[str, str, str], int] = field(default_factory=dict)
    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, comparisons: pd.DataFrame) -> None:
        if comparisons.empty:
            return
        judge_codes = np.empty(len(comparisons), dtype=np.int16)
        for key, rows in comparisons.groupby(JUDGES, sort=False).indices.items():  # judge columns are never NULL
            kind, model, spec = (str(part) for part in key)
            judge_codes[rows] = self.judges.setdefault((kind, model, spec), len(self.judges))
        columns = {"judge": judge_codes, "preference": comparisons["preference"].to_numpy(dtype=np.float64, na_value=np.nan)}
        for name in VERDICT_COLUMNS:
            columns[name] = (
                pd.Categorical(comparisons[name], categories=list(OUTCOMES)).codes.astype(np.int8)
                if name in comparisons.columns
                else np.full(len(comparisons), NO_VERDICT, dtype=np.int8)
            )
        for name in LENGTH_COLUMNS:
            columns[name] = _compact_lengths(comparisons[name].to_numpy(dtype=np.float64, na_value=np.nan))
        for name, values in columns.items():
            self.parts.setdefault(name, []).append(values)

    def frame(self) -> pd.DataFrame:
        """The rows as judge_biases and length_bins read them: judge names (shared string objects, not
        one per row), verdicts as categories (their values are the outcomes, NaN where none)."""
        names = list(self.judges)
        column = {name: self._joined(name) for name in ("judge", "preference", *VERDICT_COLUMNS, *LENGTH_COLUMNS)}
        codes = column.pop("judge")
        judge_columns = {  # object columns: a str column (pandas 3's default) would hold every row's own copy
            judge: pd.Series(np.array([name[i] for name in names], dtype=object)[codes], dtype=object)
            for i, judge in enumerate(JUDGES)
        }
        verdicts = {name: pd.Categorical.from_codes(column.pop(name), categories=list(OUTCOMES)) for name in VERDICT_COLUMNS}
        return pd.DataFrame({**judge_columns, **verdicts, **column}, copy=False)  # at 5M rows a copy is ~200 MB more

    def _joined(self, name: str) -> np.ndarray:
        """One column of every chunk, its chunks' arrays let go as it is built."""
        parts = self.parts.pop(name, [])
        return np.concatenate(parts) if parts else np.empty(0, dtype=EMPTY_TYPES.get(name, np.float64))


def _compact_lengths(values: np.ndarray) -> np.ndarray:
    """Answer lengths as int32 where that holds them exactly (every stored row), else as they are."""
    if np.isfinite(values).all() and (np.abs(values) < 2**31).all() and (values == np.round(values)).all():
        return values.astype(np.int32)
    return values


def _batches(model_ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(model_ids), size):
        yield list(model_ids[start : start + size])


def _chunk_comparisons(store: Store, model_ids: list[int], baselines: Mapping[int, set[int]]) -> pd.DataFrame:
    """The comparing rows of these models' answers: read between their answers and their baselines'
    (a use is read only when both its answers are asked for), then only the rows these models are
    evaluated in (a baseline's own rows belong to its own chunk)."""
    wanted = set(model_ids).union(*(baselines.get(model_id, set()) for model_id in model_ids))
    answers = generation_ids_of(store, sorted(wanted))
    if not answers:
        return pd.DataFrame()
    comparisons = judged_tables(store, generation_ids=answers).comparisons
    return comparisons[comparisons["model_id"].isin(model_ids)].reset_index(drop=True)


def _lc_rows(comparisons: pd.DataFrame, hashes: frozenset[str]) -> pd.DataFrame:
    """summarize_pairwise's keys and LC fields of one chunk's rows in one scope."""
    part = comparisons[comparisons["prompt_hash"].isin(hashes)]
    if part.empty:
        return part
    summary = summarize_pairwise(part, n_resamples=1, length_controlled=True)  # only its keys and LC columns are kept
    return summary[[*PAIRWISE_KEYS, *LC_FIELDS]]


def _scope_lc(parts: list[pd.DataFrame], scope: str) -> pd.DataFrame:
    """One scope's LC rows from its chunks, as one summarize_pairwise over every row lists them: its
    groups come in sorted key order, then natural order (stable); and with the column types it infers
    from the rows together (a chunk whose LC values are all withheld infers another type alone)."""
    joined = pd.concat(parts, ignore_index=True)
    keys = list(PAIRWISE_KEYS)
    ordered = natural_sorted(joined.sort_values(keys, kind="stable"), keys)
    rows = pd.DataFrame(ordered.to_dict("records"), columns=ordered.columns)
    return rows.assign(scope=scope)[LC_COLUMNS]


def row_figures(
    store: Store,
    scopes: dict[str, frozenset[str]],
    pairs: pd.DataFrame,
    models_per_chunk: int = DEFAULT_MODELS_PER_CHUNK,
) -> RowFigures:
    """The LC table, judge bias and length bins of the store's comparing rows, `models_per_chunk`
    models at a time. `scopes`: snapshot.scopes_of's. `pairs` (model_id, baseline_id: the snapshot's
    `pairs` table) says which baselines each model's chunk must read with it: a read by answer ids
    returns only the uses between the answers it names."""
    if models_per_chunk < 1:
        raise ValueError("models_per_chunk must be at least 1")
    baselines: dict[int, set[int]] = {}
    for model_id, baseline_id in zip(pairs["model_id"].to_numpy(), pairs["baseline_id"].to_numpy()):
        baselines.setdefault(int(model_id), set()).add(int(baseline_id))
    lc_parts: dict[str, list[pd.DataFrame]] = {scope: [] for scope in scopes}
    slim = _SlimRows()
    evaluated = [int(model_id) for model_id in model_rows(store)["id"] if int(model_id) in baselines]
    for chunk in _batches(evaluated, models_per_chunk):
        comparisons = _chunk_comparisons(store, chunk, baselines)
        # Each query names the chunk's answer ids (thousands), and a pooled SQLite connection keeps
        # every distinct statement it prepared: ~8 MB more per chunk of 10 models on the bench store.
        store.close()  # closes the pooled connections only; the next read opens a new one
        for scope, hashes in scopes.items():
            lc_rows = _lc_rows(comparisons, hashes) if not comparisons.empty else comparisons
            if not lc_rows.empty:
                lc_parts[scope].append(lc_rows)
        slim.add(comparisons)
        del comparisons  # the chunk's rows go before the next chunk is read
    scoped = [_scope_lc(parts, scope) for scope, parts in lc_parts.items() if parts]
    lc = pd.concat(scoped, ignore_index=True) if scoped else pd.DataFrame(columns=LC_COLUMNS)
    every_row = slim.frame()
    return RowFigures(lc, pd.DataFrame(judge_biases(every_row), columns=BIAS_COLUMNS), length_bins(every_row))


def row_figures_at(url: str, scopes: dict[str, frozenset[str]], pairs: pd.DataFrame) -> RowFigures:
    """row_figures of the store at `url` (the worker process's job: a Store holds an engine)."""
    store = Store(url, read_only=True)  # a reader: works on read-only media and never upgrades a store
    try:
        return row_figures(store, scopes, pairs)
    finally:
        store.close()
