"""The figure code of evalkit.results.tally_summary: a group's (judge, generation set[, baseline
generation set]) tallies from the database (evalkit.store.aggregates), summed over the group's
prompts, turned into the summary's point figures — counts, percentages, win rates, standard errors,
AlpacaEval's fields, mean grades and grade distributions — equal to those `summarize` computes from
rows (up to floating-point summation order).

tally_summary does the summing over a prompt scope and adds what needs more than a group's sums: the
bootstrap intervals, the invalid reasons and how AlpacaEval rounds out-of-range preferences. Here too:
which verdict type each judge kind's tallies belong to (`kinds_by_output`), and the order `summarize`
lists rows in (`in_summary_order`). Kept apart from tally_summary so that file holds the summing and
the intervals, this one the figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.core.ordering import natural_sorted
from evalkit.core.vocabulary import OUTCOMES
from evalkit.judges.aggregation import AGGREGATIONS, aggregation_of, spec_output
from evalkit.results.tables import known_outputs
from evalkit.stats.length_controlled import LC_FIELDS
from evalkit.stats.summary import LIKERT_KEYS, PAIRWISE_COLUMNS
from evalkit.store import aggregates
from evalkit.store.result_reads import judge_identities
from evalkit.store.store import Store

# The summary's pairwise columns (stats.summary) without those tally_summary fills (invalid reasons, the
# length-controlled fields), plus the verdict type, as `summarize` adds it. The intervals are NaN here.
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


def kinds_by_output(store: Store) -> dict[str, list[str]]:
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


def valid_units(tallies: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(sum, number) of the preferences on [0, 1] that the win rate averages (stats.winrate.preference_unit),
    per row of verdict or preference tallies: a verdict judge's win / tie / loss is 1 / 0.5 / 0."""
    if "n_total" in tallies:
        return tallies["sum_unit"].astype(float).fillna(0.0), tallies["n_total"].astype(float)
    n_win, n_tie = tallies["n_win"].astype(float), tallies["n_tie"].astype(float)
    return n_win + 0.5 * n_tie, n_win + n_tie + tallies["n_loss"].astype(float)


def _as_preference_tallies(tallies: pd.DataFrame) -> pd.DataFrame:
    """Verdict tallies in the columns of preference tallies (preference 2 / 1.5 / 1 for win / tie / loss)."""
    if "n_total" in tallies:
        return tallies
    frame = tallies.copy()
    frame["sum_unit"], frame["n_total"] = valid_units(tallies)
    frame["sum_unit_sq"] = frame["n_win"] + 0.25 * frame["n_tie"]
    frame["n_draws"], frame["n_wins"], frame["n_wins_base"] = frame["n_tie"], frame["n_win"], frame["n_loss"]
    return frame


def comparison_figures(tallies: pd.DataFrame, names: pd.Series, output: str) -> pd.DataFrame:
    """PAIRWISE_POINT_COLUMNS of per-group verdict or preference tallies (aggregates' columns summed over
    the group's prompts; `names`: model id -> name), plus how AlpacaEval's discrete view counts the
    group's valid preferences outside [1, 2], which it rounds: `n_rounded` of them kept after rounding,
    `sum_rounded` their units (1 / 0.5 / 0)."""
    if tallies.empty:
        return pd.DataFrame(columns=PAIRWISE_POINT_COLUMNS)
    frame = _as_preference_tallies(tallies)
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
    discrete_sum = frame["n_wins"] + 0.5 * frame["n_draws"] + frame["sum_rounded"].astype(float)
    kept = total + frame["n_rounded"].astype(float)
    out["discrete_win_rate"] = discrete_sum / kept.where(kept > 0) * 100
    for name in ("n_wins", "n_wins_base", "n_draws", "n_total"):
        out[name] = frame[name].astype(np.int64)
    out["avg_model_len"] = frame["sum_model_len"].astype(float) / frame["n_rows"].astype(float)
    out["output"] = output
    return out[PAIRWISE_POINT_COLUMNS]


def grade_figures(tallies: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """LIKERT_POINT_COLUMNS of per-group grade tallies: `n` prompts with a valid grade, `sum_prompt_means`
    of their means, and aggregates.grade_tallies' counts summed over the group's prompts."""
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


def in_summary_order(rows: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Rows in the order `summarize` lists one verdict type's groups: by the keys' values (the order
    stats.summary.group_rows numbers groups in), then stably in natural order (epoch-2 before epoch-10)."""
    if rows.empty:
        return rows.reset_index(drop=True)
    present = [key for key in keys if key in rows.columns]
    return natural_sorted(rows.sort_values(present, kind="stable"), present)
