"""The judge-quality report: one entry per judge and one for the humans (the ceiling), as plain
dicts (the JSON the CLI prints, the rows the leaderboard shows and the store keeps)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from evalkit.core.vocabulary import count_reasons
from evalkit.judge_eval.align import JudgeVerdicts
from evalkit.stats.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES
from evalkit.stats.judge_quality import (
    FIGURES,
    humans_vs_each_other,
    judge_vs_humans,
    prefer_first,
    prefer_longer,
    self_consistency,
)

# the statistics' names -> the report's (a judge is scored against the humans, humans against each other)
FIELD_NAMES = {
    "tie_discounted": "human_agreement_tie_discounted",
    "agreement": "human_agreement",
    "agreement_without_ties": "human_agreement_without_ties",
    "cohen_kappa": "cohen_kappa",
}
AGREEMENT_FIELDS: tuple[str, ...] = tuple(FIELD_NAMES.values())


def _renamed(figures: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": figures["n"]}
    for name in FIGURES:
        field = FIELD_NAMES[name]
        out[field] = figures[name]
        out[f"{field}_ci_low"], out[f"{field}_ci_high"] = figures[f"{name}_ci_low"], figures[f"{name}_ci_high"]
    return out


def _lengths(pairs: pd.DataFrame, items: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Characters of each row's two answers (NaN when the format has no texts)."""

    def length(text: Any) -> float:
        return float(len(text)) if isinstance(text, str) else math.nan

    table = pairs.drop_duplicates("item").set_index("item")
    first = table["output_1"].map(length).reindex(items.to_numpy()).to_numpy(dtype=float)
    second = table["output_2"].map(length).reindex(items.to_numpy()).to_numpy(dtype=float)
    return first, second


def _per_thousand(values: pd.Series) -> float | None:
    """Mean cost or seconds per judgment x 1000, over the judgments that report it."""
    known = values.dropna()
    return float(known.mean() * 1000) if len(known) else None


def humans_entry(
    humans: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """The humans as a group: each against the mode of the others, averaged; their own biases pooled."""
    entry = {"name": "humans", **_renamed(humans_vs_each_other(humans, n_resamples=n_resamples, level=level, seed=seed))}
    entry["raters"] = int(humans["rater"].nunique())
    entry["labels"] = len(humans)
    entry["prefer_first"] = prefer_first(humans["label"])
    entry["prefer_longer"] = prefer_longer(humans["label"], *_lengths(pairs, humans["item"]))
    return entry


def judge_entry(
    judge: JudgeVerdicts,
    humans: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """A judge against the mode of all humans, with its biases, consistency and price."""
    rows = judge.verdicts
    figures = judge_vs_humans(rows[["item", "label"]], humans, n_resamples=n_resamples, level=level, seed=seed)
    valid = rows[rows["label"].notna()]
    entry: dict[str, Any] = {"name": judge.name, **_renamed(figures)}
    entry["invalid"] = int(rows["label"].isna().sum())  # pairs asked (x samples) without a verdict: n + invalid = asked
    unlabelled = rows.loc[rows["label"].isna(), "invalid_reason"] if "invalid_reason" in rows else [None] * entry["invalid"]
    entry["invalid_reasons"] = count_reasons(unlabelled)
    entry["samples"] = int(rows.groupby("item").size().max()) if len(rows) else 0
    entry["prefer_first"] = judge.position["first_position_rate"] if judge.position else prefer_first(valid["label"])
    entry["prefer_longer"] = prefer_longer(valid["label"], *_lengths(pairs, valid["item"]))
    entry["position_consistency"] = judge.position["consistent"] if judge.position else None
    entry["self_consistency"] = self_consistency(valid[["item", "sample", "label"]]) if entry["samples"] > 1 else None
    entry["cost_per_1000"] = _per_thousand(rows["cost_usd"])
    entry["seconds_per_1000"] = _per_thousand(rows["seconds"])
    entry["unmatched"] = judge.unmatched
    entry.update(judge.details)
    return entry


def build_report(
    humans: pd.DataFrame,
    pairs: pd.DataFrame,
    judges: list[JudgeVerdicts],
    *,
    source: str,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """{"humans": ..., "judges": [...], ...}: judges sorted by tie-discounted agreement, best first."""
    entries = [judge_entry(judge, humans, pairs, n_resamples=n_resamples, level=level, seed=seed) for judge in judges]
    entries.sort(
        key=lambda e: -e["human_agreement_tie_discounted"] if not math.isnan(e["human_agreement_tie_discounted"]) else math.inf
    )
    return {
        "source": source,
        "items": int(humans["item"].nunique()),
        "level": level,
        "resamples": n_resamples,
        "humans": humans_entry(humans, pairs, n_resamples=n_resamples, level=level, seed=seed),
        "judges": entries,
    }
