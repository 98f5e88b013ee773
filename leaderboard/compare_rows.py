"""The Compare page's table: one row per prompt for two models, from the left model's point of view.

A pair may have been judged either way round (left as the evaluated model, or as the baseline), so
rows judged the other way are flipped (win <-> loss, and the two shown orders swap). The flags are
what reviewers look for: a judge whose verdict depends on the order, an invalid verdict, and a judge
that disagrees with the human majority.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.core.records import JUDGE_COLUMNS, JudgeIdentity
from evalkit.core.vocabulary import FLIPPED, OUTCOMES, OUTCOMES_BY_PREFERENCE, majority
from evalkit.leaderboard.snapshot import Snapshot
from evalkit.leaderboard.tables import JudgeKey
from evalkit.results.tables import Tables

FLIP = FLIPPED
JUDGE = list(JUDGE_COLUMNS)


def _flip(values: pd.Series) -> pd.Series:
    return values.map(lambda v: FLIP.get(v, v) if isinstance(v, str) else v)


def _oriented(table: pd.DataFrame, left: int, right: int, decoding: str | None) -> pd.DataFrame:
    """Rows of this pair in the left model's view, with `first` / `second` = verdict when left is shown
    first / second (pairwise tables) and `outcome`; only answers of `decoding` when given."""
    if decoding is not None:
        table = table[(table["decoding"] == decoding) & (table["baseline_decoding"] == decoding)]
    straight = table[(table["model_id"] == left) & (table["baseline_id"] == right)].copy()
    reverse = table[(table["model_id"] == right) & (table["baseline_id"] == left)].copy()
    if "verdict_ab" in table.columns:
        straight["first"], straight["second"] = straight["verdict_ab"], straight["verdict_ba"]
        reverse["first"], reverse["second"] = _flip(reverse["verdict_ba"]), _flip(reverse["verdict_ab"])
    reverse["outcome"] = _flip(reverse["outcome"])
    return pd.concat([straight, reverse], ignore_index=True)


def _majority(outcomes: list[str]) -> str | None:
    """The humans' majority in the left model's view, by the one majority rule (evalkit.core.vocabulary's,
    alpaca_eval's): on a split vote the pick judge-quality figures make, with left as output_2."""
    return majority(outcomes, OUTCOMES_BY_PREFERENCE)


def humans_of_pair(humans: pd.DataFrame, left: int, right: int, decoding: str | None) -> pd.DataFrame:
    """Human labels comparing these two models (either way round); only those of `decoding`'s answers
    when given, as the judges' columns are."""
    pair = ((humans["model_id"] == left) & (humans["baseline_id"] == right)) | (
        (humans["model_id"] == right) & (humans["baseline_id"] == left)
    )
    if decoding is not None:
        pair &= (humans["decoding_a"] == decoding) & (humans["decoding_b"] == decoding)
    return humans[pair]


def _label(labels: dict[JudgeKey, str], key: Any) -> str:
    """A judge's name from a groupby key over JUDGE (kind, model and spec hash)."""
    judge = JudgeIdentity(*map(str, key))
    return labels.get(judge, f"{judge.kind} · {judge.model}")


def compare_rows(
    snapshot: Snapshot,
    judged: Tables,
    left: int,
    right: int,
    humans: pd.DataFrame,
    labels: dict[JudgeKey, str],
    decoding: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """(rows, judge column names) from `judged`, the judge tables holding at least the two models' rows
    (judged_rows.pair_tables). Columns: prompt_hash, instruction, per pairwise judge `<judge>` plus
    `<judge> · L first` / `· L second`, per Likert judge `<judge> · L` / `· R`, `humans`,
    `human_majority`, and the flags `order_flip`, `invalid`, `judge_vs_human`."""
    parts: list[pd.DataFrame] = []
    outcome_columns: list[str] = []
    flip_pairs: list[tuple[str, str]] = []
    for table, both_orders in ((judged.pairwise, True), (judged.alpaca, False)):
        oriented = _oriented(table, left, right, decoding)
        for key, rows in oriented.groupby(JUDGE, sort=True):
            name = _label(labels, key)
            columns = {"outcome": name}
            if both_orders:
                columns.update({"first": f"{name} · L first", "second": f"{name} · L second"})
                flip_pairs.append((f"{name} · L first", f"{name} · L second"))
            outcome_columns.append(name)
            parts.append(
                rows.drop_duplicates("prompt_hash", keep="last").set_index("prompt_hash")[list(columns)].rename(columns=columns)
            )
    likert = judged.single[judged.single["model_id"].isin([left, right])]
    if decoding is not None:
        likert = likert[likert["decoding"] == decoding]
    for key, rows in likert.groupby(JUDGE, sort=True):
        name = _label(labels, key)
        means = rows.groupby(["prompt_hash", "model_id"])["score"].mean().unstack("model_id")
        parts.append(pd.DataFrame({f"{name} · L": means.get(left), f"{name} · R": means.get(right)}, index=means.index))

    pair_humans = humans_of_pair(humans, left, right, decoding).copy()
    if not pair_humans.empty:
        flipped = pair_humans["model_id"] == right
        pair_humans.loc[flipped, "outcome"] = _flip(pair_humans.loc[flipped, "outcome"])
        grouped = pair_humans.groupby("prompt_hash")["outcome"].agg(list)
        parts.append(pd.DataFrame({"humans": grouped.map(", ".join), "human_majority": grouped.map(_majority)}))

    if not parts:
        return pd.DataFrame(columns=["prompt_hash", "instruction", "order_flip", "invalid", "judge_vs_human"]), []
    frame = pd.concat(parts, axis=1)
    frame.index.name = "prompt_hash"
    frame = frame.reset_index().merge(snapshot.prompts.rename(columns={"hash": "prompt_hash"}), on="prompt_hash", how="left")
    frame["order_flip"] = False
    for first, second in flip_pairs:
        both = frame[first].isin(OUTCOMES) & frame[second].isin(OUTCOMES)
        frame["order_flip"] |= both & (frame[first] != frame[second])
    frame["invalid"] = frame[outcome_columns].eq("invalid").any(axis=1) if outcome_columns else False
    frame["judge_vs_human"] = False
    if "human_majority" in frame.columns:
        for column in outcome_columns:
            decided = frame[column].isin(OUTCOMES) & frame["human_majority"].notna()
            frame["judge_vs_human"] |= decided & (frame[column] != frame["human_majority"])
    leading = ["prompt_hash", "instruction"]
    return frame[leading + [c for c in frame.columns if c not in leading]], outcome_columns
