"""Judgments read back from the store as tidy tables (the interface stats, leaderboard and run use).

Verdicts are stored in the shown order; these tables turn them into the evaluated model's viewpoint:
"win" / "tie" / "loss", and AlpacaEval's preference scale (2 = model wins, 1 = baseline wins,
1.5 = tie, NaN = invalid). They read judgments through `judgment_uses`, so a judgment shared by two
models with identical answers appears for each of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from evalkit.store import schema as t

PAIR_KEYS = ["judge_kind", "judge_model", "judge_spec_hash", "prompt_hash", "model_id", "baseline_id"]
PAIRWISE_COLUMNS = ["judge_kind", "judge_model", "judge_spec_hash", "prompt_hash", "instruction", "model", "model_id",
                    "baseline", "baseline_id", "verdict_ab", "verdict_ba", "outcome", "preference", "model_len", "baseline_len"]
LIKERT_COLUMNS = ["judge_model", "judge_spec_hash", "judge_kind", "prompt_hash", "instruction", "model", "model_id",
                  "sample", "score", "valid"]
ALPACA_COLUMNS = ["judge_kind", "judge_model", "judge_spec_hash", "prompt_hash", "instruction", "model", "model_id",
                  "baseline", "baseline_id", "order", "outcome", "preference", "valid", "model_len", "baseline_len"]
PREFERENCE = {"win": 2.0, "loss": 1.0, "tie": 1.5}
# (shown order, shown verdict) -> the evaluated model's result
MODEL_VIEW = {("AB", "A"): "win", ("AB", "B"): "loss", ("BA", "A"): "loss", ("BA", "B"): "win",
              ("AB", "tie"): "tie", ("BA", "tie"): "tie"}


def _judged(store: object, judge_kind: str) -> pd.DataFrame:
    """Every use of a judgment of this kind, with model names, instruction and answer lengths.

    Three narrow queries merged here, rather than one wide join: generations and instructions are
    shared by many judgments, so their texts are read once instead of once per judgment.
    """
    uses, judgments, gens, models, prompts = t.judgment_uses, t.judgments, t.generations, t.models, t.prompts
    of_kind = judgments.c.judge_kind == judge_kind
    judged = store.frame(  # type: ignore[attr-defined]
        select(judgments.c.id, judgments.c.judge_kind, judgments.c.judge_model, judgments.c.judge_spec_hash,
               judgments.c.prompt_hash, judgments.c.order, judgments.c.sample, judgments.c.verdict, judgments.c.score,
               judgments.c.valid, uses.c.generation_a, uses.c.generation_b)
        .select_from(uses).join(judgments, judgments.c.cache_key == uses.c.cache_key).where(of_kind).order_by(judgments.c.id))
    if judged.empty:
        return judged
    # all generations and prompts: a plain scan is faster than filtering them by the judgments (measured)
    answers = store.frame(  # type: ignore[attr-defined]
        select(gens.c.id, gens.c.model_id, models.c.name, func.length(gens.c.text).label("length"))
        .join(models, models.c.id == gens.c.model_id))
    instructions = store.frame(select(prompts.c.hash.label("prompt_hash"), prompts.c.instruction))  # type: ignore[attr-defined]
    side_a = answers.rename(columns={"id": "generation_a", "model_id": "model_id", "name": "model", "length": "model_len"})
    side_b = answers.rename(columns={"id": "generation_b", "model_id": "baseline_id", "name": "baseline", "length": "baseline_len"})
    judged["generation_b"] = judged["generation_b"].astype("Int64")  # all NULL for single-answer judges
    side_b["generation_b"] = side_b["generation_b"].astype("Int64")
    frame = judged.merge(side_a, on="generation_a", how="inner").merge(side_b, on="generation_b", how="left")
    frame = frame.merge(instructions, on="prompt_hash", how="left").sort_values("id", kind="stable")
    frame["valid"] = frame["valid"].astype(bool)
    return frame.reset_index(drop=True)


def _model_view(frame: pd.DataFrame) -> pd.Series:
    keys = frame["order"].astype(str) + ":" + frame["verdict"].astype(str)
    view = keys.map({f"{order}:{verdict}": result for (order, verdict), result in MODEL_VIEW.items()})
    return view.where(frame["valid"] & view.notna(), None).astype(object)


def _combine(ab: pd.Series, ba: pd.Series) -> np.ndarray:
    """Both orders agree: that result; they disagree (or one says Neither): tie; either invalid: invalid."""
    invalid = ab.isna().to_numpy() | ba.isna().to_numpy()
    return np.where(invalid, "invalid", np.where(ab.to_numpy() == ba.to_numpy(), ab.to_numpy(), "tie"))


def pairwise_table(store: object, judge_kind: str = "pairwise") -> pd.DataFrame:
    """One row per (judge, prompt, model, baseline) judged in both orders; pairs missing an order are left out."""
    frame = _judged(store, judge_kind)
    if frame.empty:
        return pd.DataFrame(columns=PAIRWISE_COLUMNS)
    frame["model_verdict"] = _model_view(frame)
    latest = frame.drop_duplicates(PAIR_KEYS + ["order"], keep="last")
    ab = latest[latest["order"] == "AB"].set_index(PAIR_KEYS)
    ba = latest[latest["order"] == "BA"].set_index(PAIR_KEYS)
    both = ab.join(ba[["model_verdict"]].rename(columns={"model_verdict": "verdict_ba"}), how="inner")
    both = both.rename(columns={"model_verdict": "verdict_ab"}).reset_index()
    both["verdict_ab"] = both["verdict_ab"].astype(object).where(both["verdict_ab"].notna(), None)
    both["verdict_ba"] = both["verdict_ba"].astype(object).where(both["verdict_ba"].notna(), None)
    both["outcome"] = _combine(both["verdict_ab"], both["verdict_ba"])
    both["preference"] = both["outcome"].map(PREFERENCE).astype(float)
    both["model_id"] = both["model_id"].astype(int)
    both["baseline_id"] = both["baseline_id"].astype(int)
    return both[PAIRWISE_COLUMNS].reset_index(drop=True)


def likert_table(store: object, judge_kind: str = "likert") -> pd.DataFrame:
    """One row per (judge, prompt, model, judge sample); score NaN when the reply was unreadable."""
    frame = _judged(store, judge_kind)
    if frame.empty:
        return pd.DataFrame(columns=LIKERT_COLUMNS)
    frame = frame.drop_duplicates(["judge_kind", "judge_model", "judge_spec_hash", "prompt_hash", "model_id", "sample"], keep="last")
    frame["score"] = frame["score"].astype(float).where(frame["valid"], np.nan)
    frame["model_id"] = frame["model_id"].astype(int)
    return frame[LIKERT_COLUMNS].reset_index(drop=True)


def alpaca_table(store: object, judge_kind: str = "alpaca_eval") -> pd.DataFrame:
    """One row per (judge, prompt, model, baseline): the weighted preference, 1 + P(model's answer better)."""
    frame = _judged(store, judge_kind)
    if frame.empty:
        return pd.DataFrame(columns=ALPACA_COLUMNS)
    frame = frame.drop_duplicates(PAIR_KEYS, keep="last").copy()
    frame["preference"] = frame["score"].astype(float).where(frame["valid"], np.nan)
    frame["outcome"] = np.select([~frame["valid"], frame["preference"] > 1.5, frame["preference"] < 1.5],
                                 ["invalid", "win", "loss"], default="tie")
    frame["model_id"] = frame["model_id"].astype(int)
    frame["baseline_id"] = frame["baseline_id"].astype(int)
    return frame[ALPACA_COLUMNS].reset_index(drop=True)
