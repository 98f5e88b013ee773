"""LIMA's absolute ratings (Figure 3): the share of Fail / Pass / Excellent per model and rater
group, and how far raters agree on the same answers (exact agreement, Cohen's kappa).

Pure functions of long frames; ratings are "fail" / "pass" / "excellent" (anything else: not rated).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evalkit.stats.agreement import cohen_kappa

RATING_ORDER: tuple[str, ...] = ("fail", "pass", "excellent")


def rating_codes(labels: pd.Series) -> np.ndarray:
    """fail -> 0, pass -> 1, excellent -> 2, anything else -> -1."""
    index = {label: code for code, label in enumerate(RATING_ORDER)}
    return np.array([index.get(label, -1) if isinstance(label, str) else -1 for label in labels], dtype=np.int64)


def rating_shares(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One row per group of `by`: the fraction of each rating (summing to 1) and `n` valid ratings."""
    valid = frame[rating_codes(frame["label"]) >= 0]
    counts = valid.groupby([*by, "label"]).size().unstack("label").reindex(columns=list(RATING_ORDER)).fillna(0)
    n = counts.sum(axis=1)
    shares = counts.div(n, axis=0)
    shares["n"] = n.astype(int)
    return shares.reset_index().rename_axis(columns=None)


def pooled_agreement(a: pd.Series, b: pd.Series) -> dict[str, float | int]:
    """Exact agreement and Cohen's kappa over aligned pairs of ratings (pairs with a missing side dropped)."""
    codes_a, codes_b = rating_codes(a), rating_codes(b)
    both = (codes_a >= 0) & (codes_b >= 0)
    codes_a, codes_b = codes_a[both], codes_b[both]
    if not codes_a.size:
        return {"n": 0, "agreement": math.nan, "cohen_kappa": math.nan}
    return {
        "n": int(codes_a.size),
        "agreement": float(np.mean(codes_a == codes_b)),
        "cohen_kappa": cohen_kappa(codes_a, codes_b, n_labels=len(RATING_ORDER)),
    }


def rating_pairs(long: pd.DataFrame, first: set[str], second: set[str] | None = None) -> pd.DataFrame:
    """Every pair of different raters' ratings of the same item, one rater from `first` and the other
    from `second` (default: `first` too, each unordered pair once). `long` has item, rater, label."""
    left = long[long["rater"].isin(first)]
    right = long[long["rater"].isin(second if second is not None else first)]
    pairs = left.merge(right, on="item", suffixes=("_a", "_b"))
    pairs = pairs[pairs["rater_a"] != pairs["rater_b"]]
    if second is None:
        pairs = pairs[pairs["rater_a"].astype(str) < pairs["rater_b"].astype(str)]
    return pairs.reset_index(drop=True)


def agreement_with_others(long: pd.DataFrame) -> dict[str, float]:
    """Each rater's exact agreement with every other rater on the items they share (pooled pairs)."""
    result: dict[str, float] = {}
    raters = sorted(set(long["rater"]), key=str)
    for rater in raters:
        pairs = rating_pairs(long, {rater}, set(raters) - {rater})
        result[rater] = float(pooled_agreement(pairs["label_a"], pairs["label_b"])["agreement"])
    return result
