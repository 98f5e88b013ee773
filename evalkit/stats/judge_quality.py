"""How well a judge agrees with humans, and how well humans agree with each other (the ceiling).

The reference for a judge is the mode of all humans on an item (AlpacaEval's protocol; a modal tie
broken the way alpaca_eval breaks it); the reference for a human is the mode of the *other* humans
(leave-one-out), and the humans' figure is the average over humans. On each (rater label, reference)
pair we score LIMA's tie-discounted accuracy, exact agreement, agreement on pairs neither called a
tie (MT-Bench's "without ties") and Cohen's kappa against the reference label.

Every figure is a function of per-item sums (scores, counts, the 3x3 confusion counts), so the 95%
bootstrap interval over items is one matrix product through evalkit.stats.bootstrap: thousands of
resamples for every rater cost a single BLAS call. A judge sampled K times contributes K rows per
item; items stay the resampled clusters.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from evalkit.core.vocabulary import LABEL_PREFERENCE, TIE_CODE, both_orders, majority_codes
from evalkit.core.vocabulary import LABELS_BY_PREFERENCE as LABELS
from evalkit.stats.agreement import label_codes, label_matrix, length_bias, vs_mode
from evalkit.stats.bootstrap import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    percentile_interval,
    resampled_sums,
)

FIGURES: tuple[str, ...] = ("tie_discounted", "agreement", "agreement_without_ties", "cohen_kappa")
TIE = TIE_CODE
FIRST = LABELS.index("A")
_N_LABELS = len(LABELS)
# per-item sum columns: tie-discounted score, equal, compared, equal & decided, decided, then the 3x3 confusion
_TD, _EQ, _N, _EQ_DECIDED, _DECIDED, _CONFUSION = 0, 1, 2, 3, 4, 5
_WIDTH = _CONFUSION + _N_LABELS * _N_LABELS


def label_counts(codes: np.ndarray) -> np.ndarray:
    """(items, raters) codes (-1 = none) -> (items, 3) how many raters gave each label."""
    return np.stack([(codes == label).sum(axis=1) for label in range(_N_LABELS)], axis=1)


def reference_labels(counts: np.ndarray) -> np.ndarray:
    """The modal label code per item (alpaca_eval's tie-break), -1 where nobody labelled it."""
    out = np.full(counts.shape[0], -1, dtype=np.int64)
    labelled = counts.sum(axis=1) > 0
    if labelled.any():
        out[labelled] = majority_codes(counts[labelled])
    return out


def _item_sums(items: np.ndarray, rater: np.ndarray, reference: np.ndarray, n_items: int) -> np.ndarray:
    """(n_items, _WIDTH) sums over the rows of one rater; rows without both labels are left out."""
    valid = (rater >= 0) & (reference >= 0)
    items, rater, reference = items[valid], rater[valid], reference[valid]
    decided = (rater != TIE) & (reference != TIE)
    equal = rater == reference
    columns = np.zeros((items.size, _WIDTH))
    columns[:, _TD] = 1.0 - np.abs(rater - reference) / 2.0
    columns[:, _EQ] = equal
    columns[:, _N] = 1.0
    columns[:, _EQ_DECIDED] = equal & decided
    columns[:, _DECIDED] = decided
    columns[np.arange(items.size), _CONFUSION + rater * _N_LABELS + reference] = 1.0
    sums = np.zeros((n_items, _WIDTH))
    np.add.at(sums, items, columns)
    return sums


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _figures(sums: np.ndarray) -> dict[str, np.ndarray]:
    """The four figures from summed columns (..., _WIDTH); NaN where undefined."""
    n = sums[..., _N]
    confusion = sums[..., _CONFUSION:].reshape(*sums.shape[:-1], _N_LABELS, _N_LABELS)
    share = confusion / np.where(n > 0, n, 1.0)[..., None, None]
    observed = np.trace(share, axis1=-2, axis2=-1)
    expected = np.einsum("...i,...i->...", share.sum(axis=-1), share.sum(axis=-2))
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where((n > 0) & (expected < 1.0 - 1e-12), (observed - expected) / (1.0 - expected), np.nan)
    return {
        "tie_discounted": _ratio(sums[..., _TD], n),
        "agreement": _ratio(sums[..., _EQ], n),
        "agreement_without_ties": _ratio(sums[..., _EQ_DECIDED], sums[..., _DECIDED]),
        "cohen_kappa": kappa,
    }


def _nanmean_raters(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no rater with the figure defined: NaN is the answer
        return np.nanmean(values, axis=-1)


def _summarise(sums: np.ndarray, n_resamples: int, level: float, seed: int) -> dict[str, Any]:
    """Point figures (averaged over raters) and their percentile intervals over items.

    `sums` is (items, raters, _WIDTH); n is the number of items with at least one comparison."""
    n_items, n_raters, _ = sums.shape
    compared = int(np.count_nonzero(sums[:, :, _N].sum(axis=1)))
    result: dict[str, Any] = {"n": compared}
    point = _figures(sums.sum(axis=0))
    if compared == 0 or n_resamples < 1:
        intervals = {name: (math.nan, math.nan) for name in FIGURES}
    else:
        resampled = resampled_sums(sums.reshape(n_items, -1), n_resamples, seed).reshape(n_resamples, n_raters, _WIDTH)
        figures = _figures(resampled)
        intervals = {}
        for name in FIGURES:
            low, high = percentile_interval(_nanmean_raters(figures[name]), level)
            intervals[name] = (float(low), float(high))
    for name in FIGURES:
        result[name] = float(_nanmean_raters(point[name]))
        result[f"{name}_ci_low"], result[f"{name}_ci_high"] = intervals[name]
    return result


def judge_vs_humans(
    judge: pd.DataFrame,
    humans: pd.DataFrame,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> dict[str, Any]:
    """A judge's rows (`item`, `label`; several rows per item when it was sampled K times) against the
    mode of all humans (`item`, `rater`, `label`). Judge rows on items no human labelled are ignored."""
    matrix = label_matrix(humans)
    reference = reference_labels(label_counts(matrix.to_numpy()))
    positions = matrix.index.get_indexer(pd.Index(judge["item"]))
    known = positions >= 0
    codes = label_codes(judge["label"])[known]
    sums = _item_sums(positions[known], codes, reference[positions[known]], len(matrix))
    return _summarise(sums[:, None, :], n_resamples, level, seed)


def humans_vs_each_other(
    humans: pd.DataFrame, *, n_resamples: int = DEFAULT_RESAMPLES, level: float = DEFAULT_LEVEL, seed: int = 0
) -> dict[str, Any]:
    """Each human against the mode of the other humans on the items both exist, averaged over humans."""
    matrix = label_matrix(humans)
    codes = matrix.to_numpy()
    counts = label_counts(codes)
    items = np.arange(len(matrix))
    per_rater = []
    for column in range(codes.shape[1]):
        own = codes[:, column]
        others = counts - (own[:, None] == np.arange(_N_LABELS)[None, :])
        per_rater.append(_item_sums(items, own, reference_labels(others), len(matrix)))
    sums = np.stack(per_rater, axis=1) if per_rater else np.zeros((len(matrix), 0, _WIDTH))
    result = _summarise(sums, n_resamples, level, seed)
    result["raters"] = int(codes.shape[1])
    return result


def combine_orders(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One label per pair judged in both orders (codes on the pair's own first/second answers): the
    verdict when both orders agree, a tie when they disagree (LIMA, FastChat), -1 when either is missing."""
    return both_orders(first, second)


def prefer_first(labels: pd.Series | np.ndarray) -> float:
    """Share of decisive verdicts that pick the first answer; NaN without any."""
    codes = label_codes(labels)
    decisive = codes[(codes >= 0) & (codes != TIE)]
    return float(np.mean(decisive == FIRST)) if decisive.size else math.nan


def prefer_longer(labels: pd.Series | np.ndarray, lengths_1: np.ndarray, lengths_2: np.ndarray, threshold: int = 30) -> float:
    """Share of decisive verdicts that pick the longer answer, among pairs whose lengths differ by
    more than `threshold` characters (unknown lengths: NaN, left out)."""
    preferences = np.array(
        [LABEL_PREFERENCE.get(label, math.nan) if isinstance(label, str) else math.nan for label in labels], dtype=np.float64
    )
    return float(
        length_bias(preferences, np.asarray(lengths_1, dtype=float), np.asarray(lengths_2, dtype=float), threshold)[
            "prefer_longer"
        ]
    )


def self_consistency(judge: pd.DataFrame) -> float:
    """For a judge sampled K > 1 times per item (`item`, `sample`, `label`): each sample against the
    mode of its other samples, tie-discounted, averaged (1 minus AlpacaEval's "variance"). NaN for K = 1."""
    if judge.empty or judge.groupby("item").size().max() < 2:
        return math.nan
    scores = vs_mode(judge.assign(rater=judge["sample"].astype(str))[["item", "rater", "label"]])
    return float(np.nanmean(list(scores.values()))) if scores else math.nan
