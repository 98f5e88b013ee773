"""LIMA's Figure 3 from the store: the humans' ratings of an absolute batch next to the absolute
judge's ratings of the same answers, and how far the two agree. The one summary of absolute ratings,
shown by the leaderboard's Ratings page and by `evalkit report`."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalkit.judges.absolute import KIND, RATING_SCORES
from evalkit.stats.absolute import agreement_with_others, pooled_agreement, rating_pairs, rating_shares
from evalkit.store.ratings import judge_scores, ratings
from evalkit.store.store import Store

HUMANS = "humans"
_LABEL_OF_SCORE = {score: label for label, score in RATING_SCORES.items()}


def judge_ratings(store: Store, batch: int) -> pd.DataFrame:
    """The absolute judges' latest valid sample-0 rating of each answer in the batch: item_id, model,
    rater ("absolute:MODEL", plus the spec hash where one judge model has several specs), label."""
    frame = judge_scores(store, batch, KIND).drop_duplicates(["judge_model", "judge_spec_hash", "item_id"], keep="last")
    specs = frame.groupby("judge_model")["judge_spec_hash"].transform("nunique")
    frame["rater"] = [
        f"{KIND}:{model}" + (f"@{spec[:8]}" if n > 1 else "")
        for model, spec, n in zip(frame["judge_model"], frame["judge_spec_hash"], specs)
    ]
    frame["label"] = frame["score"].map(_LABEL_OF_SCORE)
    return frame[["item_id", "model", "rater", "label"]].reset_index(drop=True)


@dataclass(frozen=True)
class Figure3:
    shares: pd.DataFrame  # model, source ("humans" or a judge), fail, pass, excellent, n
    agreement: pd.DataFrame  # raters ("humans – humans", "humans – JUDGE"), n, agreement, cohen_kappa
    annotators: dict[str, float]  # each human's exact agreement with the other humans


def figure3(store: Store, batch: int) -> Figure3:
    humans = ratings(store, batch)
    judged = judge_ratings(store, batch)
    shares = pd.concat(
        [
            rating_shares(humans.assign(source=HUMANS), ["model", "source"]),
            rating_shares(judged.rename(columns={"rater": "source"}), ["model", "source"]),
        ],
        ignore_index=True,
    )
    long = pd.concat(
        [
            humans[["item_id", "annotator", "label"]].set_axis(["item", "rater", "label"], axis=1),
            judged[["item_id", "rater", "label"]].rename(columns={"item_id": "item"}),
        ],
        ignore_index=True,
    )
    people = set(humans["annotator"])
    rows = [{"raters": f"{HUMANS} – {HUMANS}", **pooled_agreement(*_sides(rating_pairs(long, people)))}]
    for judge in sorted(set(judged["rater"])):
        rows.append({"raters": f"{HUMANS} – {judge}", **pooled_agreement(*_sides(rating_pairs(long, people, {judge})))})
    return Figure3(shares, pd.DataFrame(rows), agreement_with_others(long[long["rater"].isin(people)]))


def _sides(pairs: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    return pairs["label_a"], pairs["label_b"]
