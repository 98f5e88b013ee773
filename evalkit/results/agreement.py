"""Human labels and judges' verdicts on the same answers, lined up as raters of the same items.

A human label is given on an annotation item: one generation of the model and one of the baseline,
shown in a fixed order. A judge's verdict is about the same two generations (by id, so a different
decoding's answers never count as the same item), possibly judged the other way round; it is turned
into the label of the item's shown order. `evalkit agreement` and the leaderboard's Agreement page
both read these.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.core.records import JUDGE_COLUMNS
from evalkit.core.vocabulary import FLIPPED, shown_label
from evalkit.stats.agreement import length_bias, position_consistency
from evalkit.stats.summary import preference_column

JUDGE_KEYS = list(JUDGE_COLUMNS)
BIAS_COLUMNS = ["rater", "n_both_orders", "position_consistency", "first_position_rate", "n_length_differs", "prefer_longer"]


def judge_rater_names(comparisons: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """A readable rater name per judge; the spec hash is added only where one judge model has several."""
    judges = comparisons[JUDGE_KEYS].drop_duplicates()
    counts = judges.groupby(["judge_kind", "judge_model"]).size()
    names = {}
    for kind, model, spec in judges.itertuples(index=False):
        name = f"{kind}:{model}"
        names[(kind, model, spec)] = f"{name}@{str(spec)[:8]}" if counts[(kind, model)] > 1 else name
    return names


def store_labels(humans: pd.DataFrame, comparisons: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Long rows (item, rater, label) from the humans' labels and the judges' verdicts on the same two
    generations, put in each item's shown order; and the human raters' names."""
    rows = [humans[["item_id", "annotator", "label"]].set_axis(["item", "rater", "label"], axis=1)]
    items = humans[["item_id", "generation_a", "generation_b", "order"]].drop_duplicates("item_id")
    if not comparisons.empty:
        names = judge_rater_names(comparisons)
        judged = comparisons.assign(rater=[names[k] for k in zip(*(comparisons[c] for c in JUDGE_KEYS))])
        flipped = judged.rename(columns={"generation_a": "generation_b", "generation_b": "generation_a"})
        flipped = flipped.assign(outcome=flipped["outcome"].map(FLIPPED))
        for frame in (judged, flipped):
            matched = items.merge(
                frame[["generation_a", "generation_b", "rater", "outcome"]], on=["generation_a", "generation_b"]
            )
            labels = [shown_label(order, outcome) for order, outcome in zip(matched["order"], matched["outcome"])]
            rows.append(pd.DataFrame({"item": matched["item_id"], "rater": matched["rater"], "label": labels}).dropna())
    labels = pd.concat(rows, ignore_index=True).drop_duplicates(["item", "rater"], keep="first")
    return labels, sorted(humans["annotator"].unique())


def judge_labels(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Long rows (item, rater, label) of the judges alone, an item being one pair of generations with
    the model's answer as "A": how judges agree with each other before any human has labelled."""
    if comparisons.empty:
        return pd.DataFrame(columns=["item", "rater", "label"])
    names = judge_rater_names(comparisons)
    items = comparisons["generation_a"].astype(str) + "-" + comparisons["generation_b"].astype(str)
    labels = [shown_label("AB", outcome) for outcome in comparisons["outcome"]]
    raters = [names[k] for k in zip(*(comparisons[c] for c in JUDGE_KEYS))]
    return pd.DataFrame({"item": items, "rater": raters, "label": labels}).dropna().drop_duplicates(["item", "rater"])


def _shown(part: pd.DataFrame, column: str, order: str) -> list[str | None]:
    """The per-order verdicts are in the model's view (win/tie/loss); back to the shown position."""
    if column not in part.columns:
        return [None] * len(part)
    return [shown_label(order, verdict) for verdict in part[column]]


def judge_biases(comparisons: pd.DataFrame) -> list[dict[str, Any]]:
    """Per judge, over all its comparison rows: position consistency and length bias."""
    if comparisons.empty:
        return []
    names = judge_rater_names(comparisons)
    out = []
    for key, part in comparisons.groupby(JUDGE_KEYS, sort=True):
        consistency = position_consistency(_shown(part, "verdict_ab", "AB"), _shown(part, "verdict_ba", "BA"))
        bias = length_bias(
            preference_column(part), part["baseline_len"].to_numpy(dtype=float), part["model_len"].to_numpy(dtype=float)
        )
        out.append(
            {
                "rater": names[key],
                "n_both_orders": consistency["n"],
                "position_consistency": consistency["consistent"],
                "first_position_rate": consistency["first_position_rate"],
                "n_length_differs": bias["n"],
                "prefer_longer": bias["prefer_longer"],
            }
        )
    return out
