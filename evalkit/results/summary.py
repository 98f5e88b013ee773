"""The one summary every surface reads: per (judge, generation set, baseline) win rates and per
(judge, generation set) grades over a scope.

`run`'s table, `pick`'s evidence, `evalkit judge`'s report, `evalkit stats`, `evalkit agreement` and
the leaderboard all call `summarize` (or read a snapshot built by it); none computes a figure of its
own. Each verdict type's figures are those of its declared aggregation (evalkit.judges.aggregation),
whose reducers are evalkit.stats.summary's:

- win rate: AlpacaEval's, 100 * mean(preference - 1) over valid comparisons — for verdict judges
  (preference 2 / 1.5 / 1) that is wins plus half the ties; for AlpacaEval's weighted judge its
  continuous preference; its standard error and a bootstrap interval over prompts;
- grade (Likert and the like): the mean over a prompt's valid samples, then over prompts, with a
  bootstrap interval over prompts;
- length-controlled win rate (`length_controlled=True`): alpaca-eval's minimal GLM with its standard
  error and variant, withheld with its reason where `stats.length_controlled.withheld_reason` says the
  value at equal length would be an extrapolation. Rows list models in natural epoch order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.core.records import JUDGE_COLUMNS, GenerationSetKey, JudgeIdentity
from evalkit.judges.aggregation import AGGREGATIONS, Aggregation
from evalkit.results.tables import Tables, read_tables
from evalkit.stats.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES
from evalkit.store.store import Store


@dataclass(frozen=True)
class Scope:
    """Which rows count. None means no restriction on that axis."""

    prompt_hashes: frozenset[str] | None = None
    generation_sets: frozenset[GenerationSetKey] | None = None
    judges: frozenset[JudgeIdentity] | None = None
    baseline: GenerationSetKey | None = None


@dataclass(frozen=True)
class Summary:
    """`pairwise`: one row per (judge, generation set, baseline generation set) of every judge that
    compares with a baseline (stats.summary.PAIRWISE_COLUMNS plus `output`); `single`: one row per
    (judge, generation set) of every single-answer judge (stats.summary.LIKERT_COLUMNS)."""

    pairwise: pd.DataFrame
    single: pd.DataFrame

    def row(self, compares: bool, judge: JudgeIdentity, generation_set: GenerationSetKey) -> dict[str, Any] | None:
        """One summary row, or None when that judge has no row for that generation set."""
        frame = self.pairwise if compares else self.single
        if frame.empty:
            return None
        model_id, decoding = generation_set
        mask = judge.mask(frame) & (frame["model_id"] == model_id) & (frame["decoding"] == decoding)
        found = frame[mask]
        return found.iloc[0].to_dict() if len(found) == 1 else None


def _mask(frame: pd.DataFrame, scope: Scope, compares: bool) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    if frame.empty:
        return mask
    if scope.prompt_hashes is not None:
        mask &= frame["prompt_hash"].isin(scope.prompt_hashes)
    if scope.generation_sets is not None:
        mask &= pd.Series(list(zip(frame["model_id"], frame["decoding"])), index=frame.index).isin(scope.generation_sets)
    if scope.judges is not None:
        keys = pd.Series(list(zip(*(frame[column] for column in JUDGE_COLUMNS))), index=frame.index)
        mask &= keys.isin({(j.kind, j.model, j.spec_hash) for j in scope.judges})
    if compares and scope.baseline is not None:
        baseline_id, baseline_decoding = scope.baseline
        mask &= (frame["baseline_id"] == baseline_id) & (frame["baseline_decoding"] == baseline_decoding)
    return mask


def select(tables: Tables, scope: Scope) -> Tables:
    """The rows of every table that fall in the scope (the baseline restricts the comparing ones)."""
    return Tables(
        **{
            aggregation.table: tables.of(aggregation.table)[_mask(tables.of(aggregation.table), scope, aggregation.compares)]
            for aggregation in AGGREGATIONS.values()
        }
    )


def summarize(
    tables: Tables,
    scope: Scope | None = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    length_controlled: bool = False,
) -> Summary:
    """Summaries of the rows in `scope` (all rows when None)."""
    chosen = select(tables, scope) if scope is not None else tables

    def reduced(aggregation: Aggregation) -> pd.DataFrame:
        table = chosen.of(aggregation.table)
        return aggregation.reduce(table, n_resamples=n_resamples, level=level, seed=seed, length_controlled=length_controlled)

    # Comparisons of every verdict type share one frame, each row saying its verdict type.
    parts = [
        reduced(aggregation).assign(output=aggregation.output)
        for aggregation in AGGREGATIONS.values()
        if aggregation.compares and not chosen.of(aggregation.table).empty
    ]
    pairwise = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["output"])
    (grading,) = (aggregation for aggregation in AGGREGATIONS.values() if not aggregation.compares)  # one: scores
    return Summary(pairwise, reduced(grading))


def store_tables(store: Store) -> Tables:
    """The judgment tables a summary of the store reads (no instruction texts)."""
    return read_tables(store, instructions=False)


def summarize_store(store: Store, scope: Scope | None = None, **options: Any) -> Summary:
    """summarize over a fresh read of the store."""
    return summarize(store_tables(store), scope, **options)
