"""Judgments read by key or by prompt: what a judge-quality run asked, and what the Compare page
shows of two models on one prompt."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import select

from evalkit.core.vocabulary import INVALID_REASON_KEY
from evalkit.store import schema as t
from evalkit.store.store import Store

OUTCOME_COLUMNS = ["cache_key", "verdict", "valid", "cost_usd", "latency_s", "reason"]


def judgment_outcomes(store: Store, cache_keys: Sequence[str]) -> pd.DataFrame:
    """Columns cache_key, verdict, valid, cost_usd, latency_s, reason (the stored invalid reason, or
    None) of the stored judgments among `cache_keys`."""
    j = t.judgments
    reason = j.c.extra[INVALID_REASON_KEY].as_string().label("reason")
    frames = [
        store.frame(
            select(j.c.cache_key, j.c.verdict, j.c.valid, j.c.cost_usd, j.c.latency_s, reason).where(
                j.c.cache_key.in_(cache_keys[start : start + 500])  # stay under SQLite's bound-parameter limit
            )
        )
        for start in range(0, len(cache_keys), 500)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=OUTCOME_COLUMNS)


def judgments_on_prompt(store: Store, model_ids: Sequence[int], prompt_hash: str) -> pd.DataFrame:
    """Every use of a judgment of one prompt whose judged answer is one of `model_ids`', by judgment id:
    id, judge_kind, judge_model, order, sample, verdict, score, valid, raw (the judge's completion),
    model_id, baseline_id (None for a single-answer judge)."""
    j, u, ga, gb = t.judgments, t.judgment_uses, t.generations.alias("ga"), t.generations.alias("gb")
    query = (
        select(
            j.c.id,
            j.c.judge_kind,
            j.c.judge_model,
            j.c.order,
            j.c.sample,
            j.c.verdict,
            j.c.score,
            j.c.valid,
            j.c.raw,
            ga.c.model_id.label("model_id"),
            gb.c.model_id.label("baseline_id"),
        )
        .select_from(u)
        .join(j, j.c.cache_key == u.c.cache_key)
        .join(ga, ga.c.id == u.c.generation_a)
        .outerjoin(gb, gb.c.id == u.c.generation_b)
        .where(j.c.prompt_hash == prompt_hash, ga.c.model_id.in_(model_ids))
        .order_by(j.c.id)
    )
    return store.frame(query)
