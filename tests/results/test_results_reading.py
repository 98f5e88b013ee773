"""The fast judgment reader (evalkit/results/reading.py + tables.py) against a plain reference: the same
tables built the obvious way, by joining the store's rows in pandas, on random stores with every
awkward case (shared judgments, re-generated answers, both orders or one, invalid and unknown
verdicts, with and without a stored invalid reason, several judges of one kind, Likert samples)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from evalkit.core.hashing import content_hash
from evalkit.core.records import DecodingParams, GenerationResult, Judgment, ModelInfo, Prompt, PromptSet
from evalkit.core.vocabulary import EMPTY_REPLY, INVALID_REASON_KEY, MODEL_VIEW, PREFERENCE, PROMPT_TOO_LONG, UNPARSEABLE_REPLY
from evalkit.results.tables import alpaca_table, likert_table, pairwise_table, read_tables
from evalkit.store import Store
from evalkit.store import schema as t

KEYS = ["judge_kind", "judge_model", "judge_spec_hash", "prompt_hash", "model_id", "baseline_id"]


def _random_store(url: str, seed: int) -> Store:
    rng = np.random.default_rng(seed)
    store = Store(url)
    prompts = tuple(Prompt(str(i), ({"role": "user", "content": f"question {i} {seed}"},)) for i in range(7))
    store.save_prompt_set(PromptSet("set", prompts, "test"))
    gens: dict[int, list[tuple[str, int]]] = {}
    for m in range(5):
        model_id = store.register_model(ModelInfo(f"model-{m}", content_hash([seed, m])))
        for decoding in (DecodingParams(), DecodingParams(temperature=0.7)) if m % 2 else (DecodingParams(),):
            store.add_generations(
                model_id, decoding, "test", [GenerationResult(p.hash, 0, "x" * int(rng.integers(1, 60))) for p in prompts]
            )
    rows = store.frame(select(t.generations.c.id, t.generations.c.model_id, t.generations.c.prompt_hash))
    for model_id, part in rows.groupby("model_id"):
        gens[int(model_id)] = list(zip(part["prompt_hash"], part["id"].astype(int)))
    baseline = min(gens)
    base_gen = dict(gens[baseline])
    judgments: list[Judgment] = []
    uses: list[tuple[str, int, int | None]] = []

    def add(
        kind: str,
        judge: str,
        prompt: str,
        a: int,
        b: int | None,
        order: str | None,
        verdict: str | None,
        score: float | None,
        valid: bool,
        sample: int = 0,
    ) -> None:
        key = content_hash([kind, judge, prompt, a, b, order, sample, len(judgments)])
        # an invalid judgment stored with its reason, or without one (as stored before reasons were)
        reason = None if valid else rng.choice([PROMPT_TOO_LONG, EMPTY_REPLY, UNPARSEABLE_REPLY, None])
        judgments.append(
            Judgment(
                key,
                kind,
                content_hash([kind, judge]),
                judge,
                prompt,
                a,
                b,
                order,
                sample,
                "raw",
                verdict,
                score,
                valid,
                extra={INVALID_REASON_KEY: str(reason)} if reason else {},
            )
        )
        uses.append((key, a, b))
        if rng.random() < 0.1:  # the same texts from another model: the judgment answers for it too
            other = int(rng.choice([m for m in gens if m != baseline]))
            uses.append((key, dict(gens[other])[prompt], b))

    for model_id in [m for m in gens if m != baseline]:
        for prompt, a in gens[model_id]:
            b = base_gen[prompt]
            for judge in ("gpt-a", "gpt-b"):
                for order in ("AB", "BA"):
                    if rng.random() < 0.9:
                        verdict = rng.choice(["A", "B", "tie", "Neither", None])
                        add("pairwise", judge, prompt, a, b, order, verdict, None, bool(verdict) and rng.random() > 0.1)
            for order in ("AB", "BA"):
                add("reference", "rouge", prompt, a, b, order, rng.choice(["A", "B", "tie"]), None, True)
            add(
                "alpaca_eval",
                "weighted",
                prompt,
                a,
                b,
                rng.choice(["AB", "BA"]),
                None,
                float(rng.uniform(1, 2)),
                rng.random() > 0.1,
            )
            for sample in range(int(rng.integers(1, 3))):
                add("likert", "gpt-a", prompt, a, None, None, None, float(rng.integers(1, 7)), rng.random() > 0.1, sample)
    store.add_judgments_with_uses(judgments, uses)
    return store


def tables(store: Store, instructions: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    read = read_tables(store, instructions)
    return read.pairwise, read.alpaca, read.single


def plain_join(store: Store, kind: str) -> pd.DataFrame:
    """Every use of a judgment of this kind with both sides' model, length and instruction, ordered by judgment id."""
    u, j, g, m, p = t.judgment_uses, t.judgments, t.generations, t.models, t.prompts
    ga, gb, ma, mb = g.alias("ga"), g.alias("gb"), m.alias("ma"), m.alias("mb")
    query = (
        select(
            j.c.id,
            j.c.judge_kind,
            j.c.judge_model,
            j.c.judge_spec_hash,
            j.c.prompt_hash,
            j.c.order,
            j.c.sample,
            j.c.verdict,
            j.c.score,
            j.c.valid,
            j.c.extra,
            p.c.instruction,
            ga.c.model_id,
            ma.c.name.label("model"),
            func.length(ga.c.text).label("model_len"),
            gb.c.model_id.label("baseline_id"),
            mb.c.name.label("baseline"),
            func.length(gb.c.text).label("baseline_len"),
            ga.c.decoding_hash.label("decoding"),
            gb.c.decoding_hash.label("baseline_decoding"),
            u.c.generation_a,
            u.c.generation_b,
        )
        .select_from(u)
        .join(j, j.c.cache_key == u.c.cache_key)
        .join(ga, ga.c.id == u.c.generation_a)
        .join(ma, ma.c.id == ga.c.model_id)
        .outerjoin(gb, gb.c.id == u.c.generation_b)
        .outerjoin(mb, mb.c.id == gb.c.model_id)
        .join(p, p.c.hash == j.c.prompt_hash)
        .where(j.c.judge_kind == kind)
        .order_by(j.c.id)
    )
    frame = store.frame(query)
    frame["valid"] = frame["valid"].astype(bool)
    frame["reason"] = [(extra or {}).get(INVALID_REASON_KEY) or UNPARSEABLE_REPLY for extra in frame["extra"]]
    return frame


def plain_pairwise(store: Store, kind: str) -> pd.DataFrame:
    frame = plain_join(store, kind)
    frame["view"] = [MODEL_VIEW.get((o, v)) if ok else None for o, v, ok in zip(frame["order"], frame["verdict"], frame["valid"])]
    latest = frame.drop_duplicates([*KEYS, "order"], keep="last")
    ab = latest[latest["order"] == "AB"]
    ba = latest[latest["order"] == "BA"][[*KEYS, "view", "reason"]]
    both = ab.merge(ba, on=KEYS, suffixes=("_ab", "_ba"))
    both["invalid_reason"] = [
        ra if pd.isna(x) else rb if pd.isna(y) else None
        for x, y, ra, rb in zip(both["view_ab"], both["view_ba"], both["reason_ab"], both["reason_ba"])
    ]
    both["verdict_ab"], both["verdict_ba"] = both["view_ab"], both["view_ba"]
    both["outcome"] = [
        "invalid" if pd.isna(x) or pd.isna(y) else (x if x == y else "tie") for x, y in zip(both["view_ab"], both["view_ba"])
    ]
    both["preference"] = both["outcome"].map(PREFERENCE)
    return both


def plain_likert(store: Store, kind: str) -> pd.DataFrame:
    frame = plain_join(store, kind).drop_duplicates(
        ["judge_kind", "judge_model", "judge_spec_hash", "prompt_hash", "model_id", "sample"], keep="last"
    )
    frame["score"] = [s if ok else np.nan for s, ok in zip(frame["score"], frame["valid"])]
    frame["invalid_reason"] = [None if ok else r for r, ok in zip(frame["reason"], frame["valid"])]
    return frame


def plain_alpaca(store: Store, kind: str) -> pd.DataFrame:
    frame = plain_join(store, kind).drop_duplicates(KEYS, keep="last")
    frame["preference"] = [s if ok else np.nan for s, ok in zip(frame["score"], frame["valid"])]
    frame["outcome"] = [
        "invalid" if not ok else "win" if s > 1.5 else "loss" if s < 1.5 else "tie"
        for s, ok in zip(frame["score"], frame["valid"])
    ]
    frame["invalid_reason"] = [None if ok else r for r, ok in zip(frame["reason"], frame["valid"])]
    return frame


def _same(ours: pd.DataFrame, reference: pd.DataFrame, keys: list[str]) -> None:
    assert len(ours) > 0
    reference = reference[list(ours.columns)]
    ours, reference = (frame.sort_values(keys).reset_index(drop=True).astype(object) for frame in (ours, reference))
    ours, reference = (frame.where(frame.notna(), None) for frame in (ours, reference))
    pd.testing.assert_frame_equal(ours, reference, check_dtype=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tables_match_a_plain_join(tmp_path, seed: int) -> None:
    store = _random_store(f"sqlite:///{tmp_path}/s.db", seed)
    pairwise_keys, likert_keys = KEYS, ["judge_kind", "judge_model", "prompt_hash", "model_id", "sample"]
    for kind in ("pairwise", "reference"):
        _same(pairwise_table(store, kind), plain_pairwise(store, kind), pairwise_keys)
    _same(alpaca_table(store), plain_alpaca(store, "alpaca_eval"), pairwise_keys)
    _same(likert_table(store), plain_likert(store, "likert"), likert_keys)
    # one read of everything gives the same rows, kind by kind
    pairwise, alpaca, likert = tables(store)
    assert set(pairwise["judge_kind"]) == {"pairwise", "reference"}
    _same(pairwise[pairwise["judge_kind"] == "reference"], plain_pairwise(store, "reference"), pairwise_keys)
    _same(alpaca, plain_alpaca(store, "alpaca_eval"), pairwise_keys)
    _same(likert, plain_likert(store, "likert"), likert_keys)
    assert "instruction" not in tables(store, instructions=False)[0].columns


def test_empty_and_single_kind_stores(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path}/e.db")
    pairwise, alpaca, likert = tables(store)
    assert pairwise.empty and alpaca.empty and likert.empty
    assert list(pairwise_table(store).columns)[:3] == ["judge_kind", "judge_model", "judge_spec_hash"]


def test_an_older_store_gets_the_judge_index_on_open(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    with Store(url).engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_judgments_judge")  # as a store written before the index existed
    with Store(url).engine.connect() as conn:
        names = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_judgments_judge" in names
