"""The summary's point figures from tallies the database computes (evalkit.store.aggregates), without
reading every judgment: what a first view of a very large store shows while intervals are computed.

`point_summary(store)` returns the rows `summarize(read_tables(store))` returns (same keys, same
order) with the same counts, percentages, win rates, standard errors, AlpacaEval fields, mean grades
and grade distributions (up to floating-point summation order); the figures that need every row —
bootstrap intervals, length-controlled win rates, invalid reasons — are NaN / absent here and come from
the full summary later. A preference judge's `discrete_win_rate` is NaN for a group holding preferences
outside [1, 2] (AlpacaEval rounds those; only the full summary reproduces that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.ordering import natural_sorted
from evalkit.core.vocabulary import OUTCOMES
from evalkit.judges.aggregation import AGGREGATIONS, aggregation_of, spec_output
from evalkit.results.summary import Summary
from evalkit.results.tables import known_outputs
from evalkit.stats.length_controlled import LC_FIELDS
from evalkit.stats.summary import LIKERT_KEYS, PAIRWISE_COLUMNS, PAIRWISE_KEYS
from evalkit.store import aggregates
from evalkit.store.catalog_reads import model_rows
from evalkit.store.result_reads import judge_identities
from evalkit.store.store import Store

# The summary's pairwise columns (stats.summary) without those filled later (invalid reasons, the
# length-controlled fields), plus the verdict type, as `summarize` adds it.
PAIRWISE_POINT_COLUMNS = [
    *(column for column in PAIRWISE_COLUMNS if column != "invalid_reasons" and column not in LC_FIELDS),
    "output",
]
LIKERT_POINT_COLUMNS = [
    *LIKERT_KEYS,
    "n",
    "n_samples",
    "n_invalid",
    "mean",
    "ci_low",
    "ci_high",
    *(f"pct_score_{point}" for point in aggregates.LIKERT_POINTS),
]


def _kinds_by_output(store: Store) -> dict[str, list[str]]:
    """Judge kinds by verdict type, as evalkit.results.tables.judge_tables assigns them: the declared
    output, else verdicts for kinds that judged pairs and scores for the rest."""
    declared = known_outputs(store)
    kinds = sorted({kind for kind, _, _ in judge_identities(store)})
    undeclared = [kind for kind in kinds if kind not in declared]
    paired = aggregates.paired_kinds(store, undeclared) if undeclared else set()
    by_output: dict[str, list[str]] = {output: [] for output in AGGREGATIONS}
    for kind in kinds:
        output = declared.get(kind, spec_output(kind in paired))
        by_output[aggregation_of(output).output].append(kind)
    return by_output


def _share(count: pd.Series, total: pd.Series) -> pd.Series:
    return (100.0 * count / total.where(total > 0)).astype(float)


def _comparisons(tallies: pd.DataFrame, names: pd.Series, output: str) -> pd.DataFrame:
    if tallies.empty:
        return pd.DataFrame(columns=PAIRWISE_POINT_COLUMNS)
    frame = tallies.copy()
    if "n_total" not in frame:  # verdict judges: preference 2 / 1.5 / 1 for win / tie / loss
        frame["n_total"] = frame["n_win"] + frame["n_tie"] + frame["n_loss"]
        frame["sum_unit"] = frame["n_win"] + 0.5 * frame["n_tie"]
        frame["sum_unit_sq"] = frame["n_win"] + 0.25 * frame["n_tie"]
        frame["n_draws"], frame["n_wins"], frame["n_wins_base"] = frame["n_tie"], frame["n_win"], frame["n_loss"]
        frame["n_out_of_range"] = 0
    n = frame["n_win"] + frame["n_tie"] + frame["n_loss"]
    total = frame["n_total"].astype(float)
    sums, squares = frame["sum_unit"].astype(float), frame["sum_unit_sq"].astype(float)
    mean = sums / total.where(total > 0)
    variance = ((squares - sums * mean) / (total - 1).where(total > 1)).clip(lower=0)
    out = frame[[*aggregates.PAIR_GROUP_KEYS]].copy()
    out["model"] = names.reindex(frame["model_id"].to_numpy()).to_numpy(dtype=object)
    out["baseline"] = names.reindex(frame["baseline_id"].to_numpy()).to_numpy(dtype=object)
    out["n"] = n.astype(np.int64)
    out["n_invalid"] = frame["n_invalid"].astype(np.int64)
    for name in OUTCOMES:
        out[f"{name}_pct"] = _share(frame[f"n_{name}"], n)
    out["win_rate"] = mean * 100
    out["standard_error"] = np.sqrt(variance) / np.sqrt(total) * 100
    out["ci_low"] = out["ci_high"] = math.nan
    discrete = (frame["n_wins"] + 0.5 * frame["n_draws"]) / total.where(total > 0) * 100
    out["discrete_win_rate"] = discrete.where(frame["n_out_of_range"] == 0)
    for name in ("n_wins", "n_wins_base", "n_draws", "n_total"):
        out[name] = frame[name].astype(np.int64)
    out["avg_model_len"] = frame["sum_model_len"].astype(float) / frame["n_rows"].astype(float)
    out["output"] = output
    return out[PAIRWISE_POINT_COLUMNS]


def _grades(tallies: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    if tallies.empty:
        return pd.DataFrame(columns=LIKERT_POINT_COLUMNS)
    out = tallies[[*aggregates.GROUP_KEYS]].copy()
    out["model"] = names.reindex(tallies["model_id"].to_numpy()).to_numpy(dtype=object)
    out["n"] = tallies["n"].astype(np.int64)
    out["n_samples"] = tallies["n_samples"].astype(np.int64)
    out["n_invalid"] = tallies["n_invalid"].astype(np.int64)
    out["mean"] = tallies["sum_prompt_means"].astype(float) / out["n"].where(out["n"] > 0)
    out["ci_low"] = out["ci_high"] = math.nan
    for point in aggregates.LIKERT_POINTS:
        out[f"pct_score_{point}"] = _share(tallies[f"n_score_{point}"], out["n_samples"])
    return out[LIKERT_POINT_COLUMNS]


def _point_rows(store: Store, model_ids: Sequence[int] | None) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """(comparing rows per verdict type, grade rows), unsorted; with `model_ids` only those models' groups."""
    kinds = _kinds_by_output(store)
    names = model_rows(store).set_index("id")["name"]
    comparisons = [
        _comparisons(aggregates.verdict_tallies(store, kinds["verdict"], model_ids), names, "verdict"),
        _comparisons(aggregates.preference_tallies(store, kinds["preference"], model_ids), names, "preference"),
    ]
    return comparisons, _grades(aggregates.grade_tallies(store, kinds["score"], model_ids), names)


def _ordered(comparisons: list[pd.DataFrame], grades: pd.DataFrame) -> Summary:
    """As `summarize` orders rows: each verdict type's rows in natural order, verdict types in
    AGGREGATIONS' order; grades in natural order."""
    parts = [natural_sorted(part, list(PAIRWISE_KEYS)) for part in comparisons if not part.empty]
    pairwise = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=PAIRWISE_POINT_COLUMNS)
    single = natural_sorted(grades, list(LIKERT_KEYS)).reset_index(drop=True) if not grades.empty else grades
    return Summary(pairwise, single)


def point_summary(store: Store) -> Summary:
    """Every judge's summary rows over all prompts, point figures only (see the module's docstring)."""
    comparisons, grades = _point_rows(store, None)
    return _ordered(comparisons, grades)


@dataclass(frozen=True)
class PointTallies:
    """A point summary and the store state it covers: judgments up to `max_judgment_id`, `n_uses` uses."""

    summary: Summary
    max_judgment_id: int
    n_uses: int


def refresh_point_summary(store: Store, previous: PointTallies | None = None) -> PointTallies:
    """`point_summary` of the store now, recomputing only the models that judgments written since
    `previous` are about (a checkpoint just judged: its ~5k judgments, not the store's millions).
    Everything is recomputed when there is no previous state, or when uses appeared that no new judgment
    explains (a cached judgment reused for an identical answer) or disappeared. The watermark is read
    before the tallies, so a judgment written meanwhile is counted again by the next refresh, never lost."""
    highest, uses = aggregates.watermark(store)
    if previous is None:
        return PointTallies(point_summary(store), highest, uses)
    models, new_uses = aggregates.changed_since(store, previous.max_judgment_id)
    if uses - previous.n_uses != new_uses:
        return PointTallies(point_summary(store), highest, uses)
    if not models:
        return PointTallies(previous.summary, highest, uses)
    comparisons, grades = _point_rows(store, sorted(models))
    old = previous.summary.pairwise
    old = old[~old["model_id"].isin(models)] if not old.empty else old
    by_output = [
        _stacked([part, old[old["output"] == output] if not old.empty else old], PAIRWISE_POINT_COLUMNS)
        for part, output in zip(comparisons, ("verdict", "preference"))
    ]
    old_grades = previous.summary.single
    old_grades = old_grades[~old_grades["model_id"].isin(models)] if not old_grades.empty else old_grades
    return PointTallies(_ordered(by_output, _stacked([grades, old_grades], LIKERT_POINT_COLUMNS)), highest, uses)


def _stacked(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    present = [frame for frame in frames if not frame.empty]
    return pd.concat(present, ignore_index=True) if present else pd.DataFrame(columns=columns)
