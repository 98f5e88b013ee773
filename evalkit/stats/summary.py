"""Per-(model, baseline, judge) summaries of the judge tables the store produces
(`evalkit.results.tables`): the one definition of each figure; `evalkit.results.summary` applies
them to a scope for every surface.

Pairwise / alpaca rows: judge_kind, judge_model, judge_spec_hash, prompt_hash, model, model_id,
decoding, baseline, baseline_id, baseline_decoding, outcome ("win" | "tie" | "loss" | "invalid", the model's view), preference
(AlpacaEval scale: 2 model wins, 1 baseline wins, 1.5 tie, NaN invalid), model_len, baseline_len.
Likert rows: judge_kind, judge_model, judge_spec_hash, prompt_hash, model, model_id, decoding, sample,
score, valid. Intervals resample whole prompts, with one set of resamples shared by every group, so all
groups are summarised by a few matrix products (see bootstrap.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.core.ordering import natural_sorted
from evalkit.core.records import JUDGE_COLUMNS
from evalkit.core.vocabulary import count_reasons
from evalkit.stats.bootstrap import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    cluster_codes,
    percentile_interval,
    ratio_of_sums,
    resampled_sums,
)
from evalkit.stats.length_controlled import LC_FIELDS, minimal_glm_winrate
from evalkit.stats.lima import LIKERT_SCALE, score_distribution, win_tie_loss
from evalkit.stats.winrate import alpaca_winrate, preference_unit, preferences_from_outcomes

JUDGE_KEYS: tuple[str, ...] = JUDGE_COLUMNS
# A model's identity is its generation set: the model and the decoding that produced its answers.
PAIRWISE_KEYS: tuple[str, ...] = (*JUDGE_KEYS, "model", "model_id", "decoding", "baseline", "baseline_id", "baseline_decoding")
LIKERT_KEYS: tuple[str, ...] = (*JUDGE_KEYS, "model", "model_id", "decoding")
PAIRWISE_COLUMNS: tuple[str, ...] = (
    *PAIRWISE_KEYS,
    "n",
    "n_invalid",
    "invalid_reasons",
    "win_pct",
    "tie_pct",
    "loss_pct",
    "win_rate",
    "standard_error",
    "ci_low",
    "ci_high",
    "discrete_win_rate",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    *LC_FIELDS,
    "avg_model_len",
)
LIKERT_COLUMNS: tuple[str, ...] = (
    *LIKERT_KEYS,
    "n",
    "n_samples",
    "n_invalid",
    "invalid_reasons",
    "mean",
    "ci_low",
    "ci_high",
    *(f"pct_score_{p}" for p in LIKERT_SCALE),
)


def present_keys(table: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """The grouping keys this table has (a hand-made table may lack e.g. the judge's spec hash)."""
    return [key for key in keys if key in table.columns]


def preference_column(table: pd.DataFrame) -> np.ndarray:
    """AlpacaEval preferences of the rows: the `preference` column, else derived from `outcome`."""
    if "preference" in table.columns:
        return table["preference"].to_numpy(dtype=np.float64, na_value=np.nan)
    if "outcome" in table.columns:
        return preferences_from_outcomes(table["outcome"])
    raise ValueError("a pairwise table needs a 'preference' or an 'outcome' column")


def outcome_column(table: pd.DataFrame) -> np.ndarray:
    """Each row's outcome; derived from the preference (AlpacaEval's discrete view) when absent."""
    if "outcome" in table.columns:
        return table["outcome"].astype(object).where(table["outcome"].notna(), "invalid").to_numpy(dtype=object)
    unit = preference_unit(preference_column(table))
    return np.select([np.isnan(unit), unit > 0.5, unit < 0.5], ["invalid", "win", "loss"], default="tie").astype(object)


def invalid_reasons(table: pd.DataFrame, rows_index: np.ndarray) -> dict[str, int]:
    """{reason: count} of these invalid rows (`invalid_reason`; unspecified when the table has none)."""
    if "invalid_reason" not in table.columns:
        return count_reasons([None] * len(rows_index))
    return count_reasons(table["invalid_reason"].to_numpy(dtype=object)[rows_index])


def group_rows(table: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, list[tuple[dict[str, object], np.ndarray]]]:
    """Group code of every row (0..g-1, in sorted key order) and, per group, its key values and rows.
    (The summaries list their rows in natural order afterwards: epoch-2 before epoch-10.)"""
    if not keys or table.empty:
        groups = np.zeros(len(table), dtype=np.int64)
        return groups, ([({}, np.arange(len(table)))] if len(table) else [])
    groups = np.zeros(len(table), dtype=np.int64)
    for key in keys:  # code of the key tuple so far, refined key by key; its order is the keys' sort order
        codes, uniques = pd.factorize(table[key], sort=True, use_na_sentinel=False)
        groups = pd.factorize(groups * (len(uniques) + 1) + codes, sort=True)[0].astype(np.int64)
    order = np.argsort(groups, kind="stable")
    bounds = np.searchsorted(groups[order], np.arange(int(groups.max()) + 2))
    out = []
    for g in range(len(bounds) - 1):
        rows_index = order[bounds[g] : bounds[g + 1]]
        out.append(({key: table[key].iloc[rows_index[0]] for key in keys}, rows_index))
    return groups, out


def grouped_intervals(
    values: np.ndarray, groups: np.ndarray, n_groups: int, clusters: np.ndarray | None, n_resamples: int, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of each group's mean of non-NaN values, all groups from one set of
    prompt resamples."""
    codes = cluster_codes(clusters) if clusters is not None else np.arange(values.size)
    n_clusters = int(codes.max()) + 1 if codes.size else 0
    valid = ~np.isnan(values)
    flat = codes * n_groups + groups
    size = n_clusters * n_groups
    sums = np.bincount(flat, weights=np.where(valid, values, 0.0), minlength=size).reshape(n_clusters, n_groups)
    counts = np.bincount(flat, weights=valid.astype(np.float64), minlength=size).reshape(n_clusters, n_groups)
    return intervals_of_cluster_sums(sums, counts, n_resamples, level, seed)


# Resampled sums held at once (resamples x 2 x groups): beyond this the groups are taken in slices (one
# group's interval depends only on its own columns), ~64 MB instead of ~600 MB for 10,000 resamples of
# 4,000 groups.
_INTERVAL_ELEMENTS = 8_000_000


def intervals_of_cluster_sums(
    sums: np.ndarray, counts: np.ndarray, n_resamples: int, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of each group's mean from its per-cluster sums and counts of valid values,
    both (n_clusters, n_groups), clusters numbered as `bootstrap.cluster_codes` numbers them: what
    `grouped_intervals` computes after tallying rows, and what tallies computed elsewhere (by the
    database, per prompt) give directly. The resamples depend only on (n_clusters, n_resamples, seed),
    so equal sums and counts give equal intervals however they were tallied."""
    n_clusters, n_groups = sums.shape
    if n_clusters == 0 or n_resamples < 1:
        return np.full(n_groups, np.nan), np.full(n_groups, np.nan)
    step = max(1, _INTERVAL_ELEMENTS // (2 * n_resamples))
    lows, highs = [], []
    for start in range(0, max(n_groups, 1), step):
        part = slice(start, start + step)
        width = sums[:, part].shape[1]
        resampled = resampled_sums(np.hstack([sums[:, part], counts[:, part]]), n_resamples, seed)
        low, high = percentile_interval(ratio_of_sums(resampled[:, :width], resampled[:, width:]), level)
        lows.append(low)
        highs.append(high)
    return np.concatenate(lows), np.concatenate(highs)


def _clusters(table: pd.DataFrame) -> np.ndarray | None:
    return table["prompt_hash"].to_numpy(dtype=object) if "prompt_hash" in table.columns else None


def summarize_pairwise(
    table: pd.DataFrame,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    length_controlled: bool = True,
) -> pd.DataFrame:
    """One row per (judge, model, baseline): LIMA's win/tie/loss %, AlpacaEval's seven fields, a
    bootstrap interval of the win rate, and the length-controlled win rate (minimal GLM: a run's
    prompts need not be AlpacaEval's, so instruction difficulty is not available) with its standard
    error, variant, and the reason it is withheld when it is (evalkit.stats.length_controlled).

    Percentages are of valid rows; `n` valid rows, `n_invalid` rows whose judgment is invalid, and
    `invalid_reasons` those by reason ({"unparseable reply": 3, "prompt too long": 1})."""
    keys = present_keys(table, PAIRWISE_KEYS)
    columns = [c for c in PAIRWISE_COLUMNS if c in keys or c not in PAIRWISE_KEYS]
    if table.empty:
        return pd.DataFrame(columns=columns)
    table = table.reset_index(drop=True)
    preferences = preference_column(table)
    outcomes = outcome_column(table)
    groups, members = group_rows(table, keys)
    low, high = grouped_intervals(
        preference_unit(preferences) * 100, groups, len(members), _clusters(table), n_resamples, level, seed
    )
    model_lengths = table["model_len"].to_numpy(dtype=np.float64, na_value=np.nan) if "model_len" in table else None
    rows = []
    for index, (key_values, rows_index) in enumerate(members):
        group_prefs = preferences[rows_index]
        row = dict(key_values)
        row.update(win_tie_loss(outcomes[rows_index]))
        row["invalid_reasons"] = invalid_reasons(table, rows_index[outcomes[rows_index] == "invalid"])
        row.update(alpaca_winrate(group_prefs))
        row["ci_low"], row["ci_high"] = float(low[index]), float(high[index])
        row.update(_length_controlled(table, rows_index, group_prefs, length_controlled))
        lengths = model_lengths[rows_index] if model_lengths is not None else np.array([np.nan])
        row["avg_model_len"] = float(np.nanmean(lengths)) if not np.isnan(lengths).all() else math.nan
        rows.append(row)
    return natural_sorted(pd.DataFrame(rows)[columns], keys)


def _length_controlled(
    table: pd.DataFrame, rows_index: np.ndarray, preferences: np.ndarray, enabled: bool
) -> dict[str, float | str | None]:
    if not enabled or not {"model_len", "baseline_len"} <= set(table.columns):
        return {"length_controlled_winrate": math.nan, "lc_standard_error": math.nan, "lc_variant": "", "lc_withheld": None}
    result = minimal_glm_winrate(
        preferences,
        table["baseline_len"].to_numpy(dtype=np.float64, na_value=np.nan)[rows_index],
        table["model_len"].to_numpy(dtype=np.float64, na_value=np.nan)[rows_index],
    )
    return {field: result[field] for field in LC_FIELDS}  # type: ignore[literal-required]  # LC_FIELDS are its keys


def likert_scores(table: pd.DataFrame) -> np.ndarray:
    """Scores of valid judgments, NaN for invalid ones (a failed parse is not a low score)."""
    scores = table["score"].to_numpy(dtype=np.float64, na_value=np.nan)
    if "valid" in table.columns:
        scores = np.where(table["valid"].fillna(False).astype(bool).to_numpy(), scores, np.nan)
    return scores


def per_prompt_means(table: pd.DataFrame, scores: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """Each (group, prompt)'s mean over its valid samples: the unit every Likert figure is built from,
    so five grades of one answer count once, not five times. A prompt with no valid grade has no
    mean and takes no part (its invalid grades are counted apart)."""
    clusters = _clusters(table)
    prompts = cluster_codes(clusters) if clusters is not None else np.arange(len(table))
    frame = pd.DataFrame({"group": groups, "prompt": prompts, "score": scores})
    return frame.groupby(["group", "prompt"], sort=True)["score"].mean().dropna().reset_index()


def summarize_likert(
    table: pd.DataFrame,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (judge, model): the mean 1-6 grade — a prompt's valid samples averaged first, then
    the prompts — with a bootstrap interval over prompts, and the share of valid grades at each point
    (`pct_score_1` .. `pct_score_6`, percent). `n`: prompts with a valid grade; `n_samples`: valid
    grades; `n_invalid`: invalid ones, `invalid_reasons` by reason."""
    keys = present_keys(table, LIKERT_KEYS)
    columns = [c for c in LIKERT_COLUMNS if c in keys or c not in LIKERT_KEYS]
    if table.empty:
        return pd.DataFrame(columns=columns)
    table = table.reset_index(drop=True)
    scores = likert_scores(table)
    groups, members = group_rows(table, keys)
    prompt_means = per_prompt_means(table, scores, groups)
    means = prompt_means["score"].to_numpy(dtype=np.float64)
    low, high = grouped_intervals(
        means, prompt_means["group"].to_numpy(), len(members), prompt_means["prompt"].to_numpy(), n_resamples, level, seed
    )
    rows = []
    for index, (key_values, rows_index) in enumerate(members):
        group_scores = scores[rows_index]
        group_means = means[prompt_means["group"].to_numpy() == index]
        valid_means = group_means[~np.isnan(group_means)]
        n_valid = int(np.count_nonzero(~np.isnan(group_scores)))
        row = dict(key_values)
        row.update(
            {
                "n": int(valid_means.size),
                "n_samples": n_valid,
                "n_invalid": int(group_scores.size - n_valid),
                "invalid_reasons": invalid_reasons(table, rows_index[np.isnan(group_scores)]),
                "mean": float(valid_means.mean()) if valid_means.size else math.nan,
                "ci_low": float(low[index]),
                "ci_high": float(high[index]),
            }
        )
        for point, share in score_distribution(group_scores).items():
            row[f"pct_score_{point}"] = share * 100
        rows.append(row)
    return natural_sorted(pd.DataFrame(rows)[columns], keys)
