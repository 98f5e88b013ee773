"""Rankings and paired comparisons over the store's judge tables (same columns as summary.py):
which checkpoint is best (Bradley-Terry per judge), and is A really better than B (paired tests on
the prompts both were judged on)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np
import pandas as pd

from evalkit.stats.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES
from evalkit.stats.compare import paired_bootstrap_differences, sign_test, wilcoxon_signed_rank
from evalkit.stats.ranking import bradley_terry
from evalkit.stats.summary import JUDGE_KEYS, group_rows, likert_scores, preference_column, present_keys
from evalkit.stats.winrate import preference_unit


def rank_models(
    table: pd.DataFrame,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """Bradley-Terry per judge over every (model, baseline) battle in a pairwise table (ties half a
    win; a continuous AlpacaEval preference is a fractional win). Resamples whole prompts.

    Columns: judge keys, `model_id`, `model`, then bradley_terry's (strength, ci_low, ci_high, elo,
    rank, rank_low, rank_high, n, component)."""
    keys = present_keys(table, JUDGE_KEYS)
    id_a, id_b = ("model_id", "baseline_id") if {"model_id", "baseline_id"} <= set(table.columns) else ("model", "baseline")
    known = _model_names(table)
    names = dict(zip(known["id"], known["name"]))
    frames = []
    for key_values, rows_index in group_rows(table, keys)[1]:
        part = table.iloc[rows_index]
        ranking = bradley_terry(
            part[id_a].to_numpy(dtype=object),
            part[id_b].to_numpy(dtype=object),
            preference_unit(preference_column(part)),
            clusters=part["prompt_hash"].to_numpy(dtype=object) if "prompt_hash" in part else None,
            n_resamples=n_resamples,
            level=level,
            seed=seed,
        )
        ranking = ranking.rename(columns={"player": id_a})
        if id_a != "model":
            ranking.insert(0, "model", [names.get(p, str(p)) for p in ranking[id_a]])
        for position, key in enumerate(key_values):
            ranking.insert(position, key, key_values[key])
        frames.append(ranking)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _model_names(table: pd.DataFrame) -> pd.DataFrame:
    """Every (name, id) pair the table mentions, as model or as baseline."""
    parts = []
    for name, ident in (("model", "model_id"), ("baseline", "baseline_id")):
        if name in table.columns:
            ids = table[ident] if ident in table.columns else table[name]
            parts.append(pd.DataFrame({"name": table[name].to_numpy(), "id": ids.to_numpy()}).drop_duplicates())
    return pd.concat(parts, ignore_index=True).drop_duplicates()


def resolve_model(table: pd.DataFrame, spec: Hashable, known: pd.DataFrame | None = None) -> Hashable:
    """A model's id in the table from its id or its name; a name shared by two ids is ambiguous.
    `known`: _model_names(table), when resolving many."""
    known = _model_names(table) if known is None else known
    by_id = known[known["id"].astype(str) == str(spec)]
    if not by_id.empty:
        return by_id["id"].iloc[0]
    matches = known.loc[known["name"] == spec, "id"].drop_duplicates()
    if matches.empty:
        raise ValueError(f"model {spec!r} has no judgments in this table")
    if len(matches) > 1:
        raise ValueError(f"model name {spec!r} matches several models (ids {', '.join(map(str, matches))}); use an id")
    return matches.iloc[0]


def _prompt_matrix(part: pd.DataFrame, values: np.ndarray, id_column: str) -> pd.DataFrame:
    """prompts x models: each model's mean valid value per prompt (several samples count once)."""
    frame = pd.DataFrame({"prompt": part["prompt_hash"].to_numpy(), "model": part[id_column].to_numpy(), "value": values})
    return frame.groupby(["prompt", "model"], sort=True)["value"].mean().unstack("model")


def _compare_many(
    table: pd.DataFrame,
    pairs: Sequence[tuple[Hashable, Hashable]],
    values: np.ndarray,
    keys: list[str],
    scale: float,
    n_resamples: int,
    level: float,
    seed: int,
    test: Callable[[np.ndarray, np.ndarray], dict[str, float]],
) -> list[dict[str, object]]:
    """Per group of `keys`, every requested (a, b) both present: paired bootstrap (all pairs of the
    group share one set of prompt resamples) and `test` on the per-prompt values."""
    id_column = "model_id" if "model_id" in table else "model"
    known = _model_names(table)
    resolved = [(resolve_model(table, a, known), resolve_model(table, b, known)) for a, b in pairs]
    rows: list[dict[str, object]] = []
    for key_values, rows_index in group_rows(table, keys)[1]:
        matrix = _prompt_matrix(table.iloc[rows_index], values[rows_index], id_column)
        present = [(a, b) for a, b in resolved if a in matrix.columns and b in matrix.columns]
        if not present:
            continue
        left = matrix[[a for a, _ in present]].to_numpy(dtype=np.float64)
        right = matrix[[b for _, b in present]].to_numpy(dtype=np.float64)
        diffs = paired_bootstrap_differences(left * scale, right * scale, n_resamples, level, seed)
        for column, ((a, b), diff) in enumerate(zip(present, diffs)):
            if diff["n"] == 0:
                continue
            rows.append({**key_values, "model_a": a, "model_b": b, **diff, **test(left[:, column], right[:, column])})
    return rows


def compare_pairwise_many(
    table: pd.DataFrame,
    pairs: Sequence[tuple[Hashable, Hashable]],
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """Each (A, B) against each baseline both faced, per judge, on the prompts both were judged on:
    win rates `win_rate_a`/`win_rate_b` (percent), `difference` with a paired bootstrap interval
    (`ci_low`, `ci_high`) and p-value (`p_bootstrap`), and the sign test on per-prompt preferences,
    ties excluded (`n_a_better`, `n_b_better`, `n_equal`, `p_sign`)."""

    def sign(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        result = sign_test(a, b)
        return {
            "n_a_better": result["n_a_better"],
            "n_b_better": result["n_b_better"],
            "n_equal": result["n_equal"],
            "p_sign": result["p_value"],
        }

    keys = present_keys(table, (*JUDGE_KEYS, "baseline", "baseline_id"))
    rows = _compare_many(table, pairs, preference_unit(preference_column(table)), keys, 100.0, n_resamples, level, seed, sign)
    frame = pd.DataFrame(rows)
    return frame.rename(columns={"mean_a": "win_rate_a", "mean_b": "win_rate_b", "p_value": "p_bootstrap"})


def compare_pairwise(
    table: pd.DataFrame,
    model_a: Hashable,
    model_b: Hashable,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """compare_pairwise_many for one pair."""
    return compare_pairwise_many(table, [(model_a, model_b)], n_resamples, level, seed)


def compare_likert_many(
    table: pd.DataFrame,
    pairs: Sequence[tuple[Hashable, Hashable]],
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """Each (A, B) on Likert scores per judge, paired by prompt (per-prompt mean over samples):
    `mean_a`, `mean_b`, `difference` with a paired bootstrap interval and p-value (`p_bootstrap`),
    and scipy's Wilcoxon signed-rank test (`wilcoxon_statistic`, `n_wilcoxon`, `p_wilcoxon`)."""

    def wilcoxon(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        result = wilcoxon_signed_rank(a, b)
        return {"wilcoxon_statistic": result["statistic"], "n_wilcoxon": result["n"], "p_wilcoxon": result["p_value"]}

    rows = _compare_many(
        table, pairs, likert_scores(table), present_keys(table, JUDGE_KEYS), 1.0, n_resamples, level, seed, wilcoxon
    )
    return pd.DataFrame(rows).rename(columns={"p_value": "p_bootstrap"})


def compare_likert(
    table: pd.DataFrame,
    model_a: Hashable,
    model_b: Hashable,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """compare_likert_many for one pair."""
    return compare_likert_many(table, [(model_a, model_b)], n_resamples, level, seed)
