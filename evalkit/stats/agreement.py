"""How far raters (humans, judges, one judge's two orders) agree on pairwise labels "A" / "B" / "tie".

- LIMA's tie-discounted accuracy: 1 when two labels are equal, 0.5 when exactly one is a tie, 0
  otherwise. On AlpacaEval's preference scale (A = 1, tie = 1.5, B = 2) this is 1 - |a - b|, i.e.
  AlpacaEval's "absolute" scoring rule, which is how both protocols coincide.
- exact agreement, agreement on items neither rater called a tie, and Cohen's kappa;
- AlpacaEval's human-agreement protocol: each rater against the mode of the other raters
  (leave-one-out for humans), a modal tie broken the way alpaca_eval's `_random_mode` breaks it
  (pandas `sample(1, random_state=123)` over the sorted modes).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import TypedDict

import numpy as np
import pandas as pd

from evalkit.core.vocabulary import LABEL_PREFERENCE as LABEL_PREFERENCE
from evalkit.core.vocabulary import LABELS_BY_PREFERENCE, majority_codes

LABELS = LABELS_BY_PREFERENCE  # label codes 0, 1, 2: A, tie, B (evalkit.core.vocabulary's)


class PairAgreement(TypedDict):
    rater_a: str
    rater_b: str
    n: int
    tie_discounted: float
    agreement: float
    agreement_without_ties: float
    cohen_kappa: float


def label_codes(labels: Iterable[str | None]) -> np.ndarray:
    """A -> 0, tie -> 1, B -> 2; anything else (missing, invalid) -> -1."""
    index = {label: code for code, label in enumerate(LABELS)}
    return np.array([index.get(label, -1) if isinstance(label, str) else -1 for label in labels], dtype=np.int64)


def tie_discounted_scores(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-item tie-discounted agreement of two code arrays (both valid): 1 - |a - b| / 2 on codes 0..2."""
    return 1.0 - np.abs(a - b) / 2.0


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_labels: int = len(LABELS)) -> float:
    """Cohen's kappa of two aligned code arrays; NaN when chance agreement is 1 (both constant, equal)."""
    if a.size == 0:
        return math.nan
    confusion = np.bincount(a * n_labels + b, minlength=n_labels * n_labels).reshape(n_labels, n_labels) / a.size
    observed = np.trace(confusion)
    expected = float(confusion.sum(axis=1) @ confusion.sum(axis=0))
    return math.nan if expected >= 1.0 else float((observed - expected) / (1.0 - expected))


def pair_agreement(labels_a: Iterable[str | None], labels_b: Iterable[str | None]) -> dict[str, float | int]:
    """Agreement of two raters' aligned labels over the items both labelled validly."""
    a, b = label_codes(labels_a), label_codes(labels_b)
    if a.shape != b.shape:
        raise ValueError(f"aligned label lists must have the same length, got {a.size} and {b.size}")
    return _pair_agreement_codes(a, b)


def _pair_agreement_codes(a: np.ndarray, b: np.ndarray) -> dict[str, float | int]:
    both = (a >= 0) & (b >= 0)
    a, b = a[both], b[both]
    n = int(a.size)
    if n == 0:
        return {
            "n": 0,
            "tie_discounted": math.nan,
            "agreement": math.nan,
            "agreement_without_ties": math.nan,
            "cohen_kappa": math.nan,
        }
    tie = LABELS.index("tie")
    decided = (a != tie) & (b != tie)
    return {
        "n": n,
        "tie_discounted": float(tie_discounted_scores(a, b).mean()),
        "agreement": float(np.mean(a == b)),
        "agreement_without_ties": float(np.mean(a[decided] == b[decided])) if decided.any() else math.nan,
        "cohen_kappa": cohen_kappa(a, b),
    }


def label_matrix(labels: pd.DataFrame) -> pd.DataFrame:
    """items x raters matrix of codes (-1 = not labelled) from long rows `item`, `rater`, `label`."""
    missing = {"item", "rater", "label"} - set(labels.columns)
    if missing:
        raise ValueError(f"labels need the columns item, rater, label (missing: {', '.join(sorted(missing))})")
    frame = labels.assign(code=label_codes(labels["label"]))
    frame = frame[frame["code"] >= 0]
    duplicated = frame.duplicated(["item", "rater"], keep=False)
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        raise ValueError(f"rater {first['rater']!r} labelled item {first['item']!r} more than once")
    return frame.pivot(index="item", columns="rater", values="code").fillna(-1).astype(np.int64)


def agreement_pairs(labels: pd.DataFrame) -> list[PairAgreement]:
    """One entry per pair of raters that share at least one validly labelled item (raters sorted)."""
    matrix = label_matrix(labels)
    raters = sorted(matrix.columns, key=str)
    out: list[PairAgreement] = []
    for first, second in itertools.combinations(raters, 2):
        stats = _pair_agreement_codes(matrix[first].to_numpy(), matrix[second].to_numpy())
        if stats["n"]:
            out.append({"rater_a": str(first), "rater_b": str(second), **stats})  # type: ignore[typeddict-item]
    return out


def agreement_square(pairs: Sequence[PairAgreement], metric: str = "tie_discounted") -> pd.DataFrame:
    """The symmetric raters x raters matrix of one metric (diagonal 1), for display."""
    raters = sorted({p["rater_a"] for p in pairs} | {p["rater_b"] for p in pairs})
    square = pd.DataFrame(np.nan, index=raters, columns=raters)
    for rater in raters:
        square.loc[rater, rater] = 1.0
    for pair in pairs:
        square.loc[pair["rater_a"], pair["rater_b"]] = pair[metric]  # type: ignore[literal-required]
        square.loc[pair["rater_b"], pair["rater_a"]] = pair[metric]  # type: ignore[literal-required]
    return square


def vs_mode(labels: pd.DataFrame, pool: Iterable[str] | None = None) -> dict[str, float]:
    """Each rater's mean tie-discounted agreement with the mode of the other raters, on the items
    where both exist (AlpacaEval's human-agreement protocol).

    `pool`: the raters whose labels form the mode (default: all). A rater in the pool is compared
    with the mode of the rest of the pool (leave-one-out, as for AlpacaEval's humans); a rater
    outside it (a judge) with the mode of the whole pool. Raters without such items get NaN."""
    matrix = label_matrix(labels)
    raters = list(matrix.columns)
    pool_set = set(raters) if pool is None else set(pool) & set(raters)
    codes = matrix.to_numpy()
    in_pool = np.array([rater in pool_set for rater in raters])
    pool_counts = np.stack([(codes[:, in_pool] == label).sum(axis=1) for label in range(len(LABELS))], axis=1)
    result: dict[str, float] = {}
    for column, rater in enumerate(raters):
        own = codes[:, column]
        others = pool_counts.copy()
        if in_pool[column]:
            for label in range(len(LABELS)):
                others[:, label] -= own == label
        usable = (own >= 0) & (others.sum(axis=1) > 0)
        if not usable.any():
            result[str(rater)] = math.nan
            continue
        modes = modal_codes(others[usable])
        result[str(rater)] = float(tie_discounted_scores(own[usable], modes).mean())
    return result


modal_codes = majority_codes  # the one majority rule, evalkit.core.vocabulary's


def position_consistency(verdicts_ab: Iterable[str | None], verdicts_ba: Iterable[str | None]) -> dict[str, float | int]:
    """How often a judge keeps its verdict when the two answers swap places.

    Verdicts name the shown position ("A" = first shown). The same answer wins in both orders when
    (AB, BA) is (A, B) or (B, A); (tie, tie) is consistent too. Pairs with a missing verdict are left
    out. `first_position_rate` is the share of decisive verdicts (either order) that picked the first
    shown answer: 0.5 for a judge without position bias."""
    ab, ba = label_codes(verdicts_ab), label_codes(verdicts_ba)
    if ab.shape != ba.shape:
        raise ValueError("verdicts_ab and verdicts_ba must be aligned (same length)")
    both = (ab >= 0) & (ba >= 0)
    ab, ba = ab[both], ba[both]
    n = int(ab.size)
    tie = LABELS.index("tie")
    consistent = ab + ba == 2 * tie  # (A, B), (B, A), (tie, tie) on codes 0, 1, 2
    decisive = np.concatenate([ab, ba])
    decisive = decisive[decisive != tie]
    return {
        "n": n,
        "consistent": float(consistent.mean()) if n else math.nan,
        "first_position_rate": float(np.mean(decisive == LABELS.index("A"))) if decisive.size else math.nan,
    }


def length_bias(
    preferences: Iterable[float] | np.ndarray,
    lengths_1: Iterable[float] | np.ndarray,
    lengths_2: Iterable[float] | np.ndarray,
    threshold: int = 30,
) -> dict[str, float | int]:
    """How often the longer answer wins, among pairs whose lengths differ by more than `threshold`
    characters (AlpacaEval's "Proba. prefer longer").

    `preferences` on AlpacaEval's scale (< 1.5: output_1 wins, > 1.5: output_2 wins). A tie (1.5), NaN
    or out-of-range preference has no winner and is left out, as in alpaca_eval's
    `Analyzer.get_length_biases` (where a tie's "best" and "worse" answer are the same one)."""
    pref = np.asarray(list(preferences) if not isinstance(preferences, np.ndarray) else preferences, dtype=np.float64)
    len_1 = np.asarray(list(lengths_1) if not isinstance(lengths_1, np.ndarray) else lengths_1, dtype=np.float64)
    len_2 = np.asarray(list(lengths_2) if not isinstance(lengths_2, np.ndarray) else lengths_2, dtype=np.float64)
    first_wins = (pref >= 1) & (pref < 1.5)
    second_wins = (pref > 1.5) & (pref <= 2)
    decided = (first_wins | second_wins) & (np.abs(len_1 - len_2) > threshold)
    longer_won = np.where(first_wins, len_1 > len_2, len_2 > len_1)
    n = int(np.count_nonzero(decided))
    return {"n": n, "prefer_longer": float(np.mean(longer_won[decided])) if n else math.nan}
