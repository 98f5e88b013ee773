"""Per-group tallies of stored judgments computed by the database (GROUP BY), not by reading every
judgment into Python.

At 1,000 checkpoints and 5M judgments, reading every judgment use into pandas (evalkit.results.reading)
costs tens of seconds and gigabytes; the leaderboard's first view needs only per (judge, generation
set, baseline) counts and sums. These queries return exactly the quantities `evalkit.results.summary`
derives its point figures from, with the same reading rules as evalkit.results.tables:

- judgments are read through `judgment_uses` (a judgment shared by two identical answers counts for
  each), of uses whose generation exists;
- "the latest judgment" of a (judge, pair, order) or (judge, answer, sample) is the one with the
  highest id (the reader sorts by id and keeps the last);
- verdict judges count a pair only when judged in both orders: agreeing orders give the outcome,
  disagreeing ones a tie, an invalid order makes the pair invalid;
- preference judges (AlpacaEval's weighted one) keep one continuous preference per pair;
- grade judges (Likert) average a prompt's valid samples first, then the prompts.

With `model_ids`, only the groups of those models' answers are tallied: what an incremental refresh
recomputes (`watermark` and `changed_since` say which). The callers (evalkit.results.aggregated) turn
the tallies into the summary's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, Select, and_, case, cast, func, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from evalkit.core.records import JUDGE_COLUMNS
from evalkit.core.vocabulary import MODEL_VIEW, OUTCOMES, TIE_CODE
from evalkit.store import schema as t
from evalkit.store.store import Store

GROUP_KEYS = [*JUDGE_COLUMNS, "model_id", "decoding"]
PAIR_GROUP_KEYS = [*GROUP_KEYS, "baseline_id", "baseline_decoding"]
# Outcome codes: index into OUTCOMES (win, tie, loss); INVALID for a pair that cannot be counted.
INVALID = -1
LIKERT_POINTS = (1, 2, 3, 4, 5, 6)


def _judge_columns() -> list[ColumnElement[Any]]:
    j = t.judgments
    return [j.c.judge_kind, j.c.judge_model, j.c.judge_spec_hash]


def _uses_of(kinds: Sequence[str], model_ids: Sequence[int] | None) -> list[ColumnElement[Any]]:
    """Conditions on judgment uses: of these judge kinds and, with `model_ids`, answers of those models."""
    j, u, g = t.judgments, t.judgment_uses, t.generations
    conditions: list[ColumnElement[Any]] = [j.c.judge_kind.in_(list(kinds))]
    if model_ids is not None:
        conditions.append(u.c.generation_a.in_(select(g.c.id).where(g.c.model_id.in_(list(model_ids)))))
    return conditions


def _latest(kinds: Sequence[str], per: Sequence[ColumnElement[Any]], model_ids: Sequence[int] | None) -> Any:
    """Subquery: the latest judgment (highest id) of each (judge, use's generations, `per`) of these
    kinds, as its key columns, `valid` (1 / 0) and `score`. Most keys hold one judgment, whose values
    the grouping itself yields; only re-judged keys are joined back to their latest row."""
    j, u = t.judgments, t.judgment_uses
    keys = [*_judge_columns(), u.c.generation_a, func.coalesce(u.c.generation_b, -1).label("generation_b"), *per]
    valid = case((j.c.valid.is_(True), 1), else_=0)
    grouped = (
        select(
            *keys,
            func.count().label("copies"),
            func.max(j.c.id).label("id"),
            func.max(j.c.score).label("score"),
            func.max(valid).label("valid"),
        )
        .select_from(u.join(j, j.c.cache_key == u.c.cache_key))
        .where(*_uses_of(kinds, model_ids))
        .group_by(*keys)
        .cte("grouped")
    )
    names = [str(key.name) for key in keys]
    once = select(*(grouped.c[name] for name in names), grouped.c.valid, grouped.c.score).where(grouped.c.copies == 1)
    rejudged = t.judgments.alias("rejudged")
    again = (
        select(
            *(grouped.c[name] for name in names),
            case((rejudged.c.valid.is_(True), 1), else_=0).label("valid"),
            rejudged.c.score,
        )
        .select_from(grouped.join(rejudged, rejudged.c.id == grouped.c.id))
        .where(grouped.c.copies > 1)
    )
    return union_all(once, again).subquery("latest")


def _model_view() -> ColumnElement[Any]:
    """The evaluated model's outcome code of a judgment in its shown order (INVALID: invalid or unknown)."""
    j = t.judgments
    whens = [
        (and_(j.c.order == order, j.c.verdict == verdict), literal(OUTCOMES.index(outcome)))
        for (order, verdict), outcome in MODEL_VIEW.items()
    ]
    return case((j.c.valid.is_(False), literal(INVALID)), *whens, else_=literal(INVALID))


def _frame(store: Store, query: Select[Any]) -> pd.DataFrame:
    """The query's rows; tallies as floats (PostgreSQL's SUM of integers is NUMERIC: Decimal in Python)."""
    with store.engine.connect() as conn:
        result = conn.execute(query)
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for column in frame.columns:
        if column not in PAIR_GROUP_KEYS:
            frame[column] = frame[column].astype(float)
    return frame


def _answers() -> Any:
    """Generations without their text (only its length): joining the full rows would carry every
    answer's text through the database's sort."""
    g = t.generations
    return select(g.c.id, g.c.model_id, g.c.decoding_hash, g.c.prompt_hash, func.length(g.c.text).label("length")).subquery()


def _with_generation_sets(pairs: Any, grouped: Sequence[ColumnElement[Any]]) -> Select[Any]:
    """Group `pairs` (a subquery with judge columns and generation_a/_b) by judge and both generation sets."""
    a, b = _answers().alias("answer"), _answers().alias("baseline")
    keys: list[ColumnElement[Any]] = [
        pairs.c.judge_kind,
        pairs.c.judge_model,
        pairs.c.judge_spec_hash,
        a.c.model_id.label("model_id"),
        a.c.decoding_hash.label("decoding"),
        b.c.model_id.label("baseline_id"),
        b.c.decoding_hash.label("baseline_decoding"),
    ]
    lengths = [func.sum(a.c.length).label("sum_model_len"), func.count().label("n_rows")]
    joined = pairs.join(a, a.c.id == pairs.c.generation_a).join(b, b.c.id == pairs.c.generation_b)
    return select(*keys, *grouped, *lengths).select_from(joined).group_by(*keys)


def watermark(store: Store) -> tuple[int, int]:
    """(highest judgment id, number of judgment uses): what a refresh of tallies starts from."""
    j, u = t.judgments, t.judgment_uses
    with store.engine.connect() as conn:
        highest = conn.execute(select(func.coalesce(func.max(j.c.id), 0))).scalar_one()
        uses = conn.execute(select(func.count()).select_from(u)).scalar_one()
    return int(highest), int(uses)


def changed_since(store: Store, judgment_id: int) -> tuple[set[int], int]:
    """(models whose answers judgments newer than `judgment_id` are about, how many uses those
    judgments have): a range of the primary key and the uses' cache-key index, cheap when few are new."""
    j, u, g = t.judgments, t.judgment_uses, t.generations
    newer = (
        select(g.c.model_id)
        .select_from(j.join(u, u.c.cache_key == j.c.cache_key).join(g, g.c.id == u.c.generation_a))
        .where(j.c.id > judgment_id)
    )
    with store.engine.connect() as conn:
        models = {int(row[0]) for row in conn.execute(newer.distinct())}
        uses = conn.execute(
            select(func.count()).select_from(j.join(u, u.c.cache_key == j.c.cache_key)).where(j.c.id > judgment_id)
        ).scalar_one()
    return models, int(uses)


def paired_kinds(store: Store, kinds: Sequence[str]) -> set[str]:
    """Which of these judge kinds judged pairs (a use with a baseline answer): one indexed probe per kind."""
    j, u = t.judgments, t.judgment_uses
    found = set()
    with store.engine.connect() as conn:
        for kind in kinds:
            probe = (
                select(literal(1))
                .select_from(u.join(j, j.c.cache_key == u.c.cache_key))
                .where(j.c.judge_kind == kind, u.c.generation_b.is_not(None))
                .limit(1)
            )
            if conn.execute(probe).first() is not None:
                found.add(kind)
    return found


def verdict_tallies(store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Verdict judges (both orders): per (judge, generation set, baseline generation set) the number of
    pairs won, tied, lost and invalid (`n_win`, `n_tie`, `n_loss`, `n_invalid`), `n_rows` pairs in all
    and `sum_model_len` (characters of the model's answers over those pairs)."""
    if not kinds:
        return pd.DataFrame(columns=[*PAIR_GROUP_KEYS, "n_win", "n_tie", "n_loss", "n_invalid", "sum_model_len", "n_rows"])
    j, u = t.judgments, t.judgment_uses
    # One pass: the latest judgment of each order wins, so its outcome rides in the low bits of the
    # largest (id, outcome) code: max(id * 4 + outcome + 1) names the latest id and carries its outcome.
    code = cast(j.c.id, BigInteger) * 4 + _model_view() + 1

    def latest_in(order: str) -> ColumnElement[Any]:
        return func.max(case((j.c.order == order, code)))

    ab, ba = latest_in("AB"), latest_in("BA")
    pair_keys = [*_judge_columns(), u.c.generation_a, u.c.generation_b]
    pairs = (
        select(*pair_keys, ab.label("ab"), ba.label("ba"))
        .select_from(u.join(j, j.c.cache_key == u.c.cache_key))
        .where(*_uses_of(kinds, model_ids), u.c.generation_b.is_not(None), j.c.order.in_(["AB", "BA"]))
        .group_by(*pair_keys)
        .having(and_(ab.is_not(None), ba.is_not(None)))  # judged in both orders (an inner merge of the two)
        .subquery("pairs")
    )
    view_ab, view_ba = pairs.c.ab % 4 - 1, pairs.c.ba % 4 - 1
    outcome = case(
        (or_(view_ab == INVALID, view_ba == INVALID), literal(INVALID)),
        (view_ab == view_ba, view_ab),
        else_=literal(TIE_CODE),
    )

    def counted(code: int) -> ColumnElement[Any]:
        return func.sum(case((outcome == code, 1), else_=0))

    tallies = [counted(OUTCOMES.index(name)).label(f"n_{name}") for name in OUTCOMES] + [counted(INVALID).label("n_invalid")]
    return _frame(store, _with_generation_sets(pairs, tallies))


def preference_tallies(store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Preference judges (one continuous preference per pair, 1 = baseline wins, 2 = model wins): per
    (judge, generation set, baseline generation set) the outcomes (`n_win` above 1.5, `n_loss` below,
    `n_tie` otherwise, `n_invalid`), and over the preferences AlpacaEval keeps (valid, 0 read as 1.5,
    within [1, 2]): `n_total`, `sum_unit` and `sum_unit_sq` of preference - 1, `n_draws` (exactly 1.5),
    `n_wins`, `n_wins_base`; `n_out_of_range` valid preferences outside [1, 2] (whose discrete view
    AlpacaEval rounds: left to the pandas summary). Plus `n_rows` and `sum_model_len`."""
    columns = ["n_win", "n_tie", "n_loss", "n_invalid", "n_total", "sum_unit", "sum_unit_sq", "n_draws", "n_wins"]
    if not kinds:
        return pd.DataFrame(columns=[*PAIR_GROUP_KEYS, *columns, "n_wins_base", "n_out_of_range", "sum_model_len", "n_rows"])
    latest = _latest(kinds, [], model_ids)
    valid = latest.c.valid == 1
    preference = case((and_(valid, latest.c.score == 0), literal(1.5)), (valid, latest.c.score))
    pairs = (
        select(
            latest.c.judge_kind,
            latest.c.judge_model,
            latest.c.judge_spec_hash,
            latest.c.generation_a,
            latest.c.generation_b,
            latest.c.valid,
            latest.c.score,
            preference.label("preference"),
        )
        .where(latest.c.generation_b >= 0)
        .subquery("pairs")
    )
    p, score = pairs.c.preference, pairs.c.score
    kept = and_(p >= 1, p <= 2)
    unit = case((kept, p - 1))

    def counted(condition: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    valid_pair = pairs.c.valid == 1
    tallies = [
        counted(and_(valid_pair, score > 1.5)).label("n_win"),
        counted(and_(valid_pair, or_(score.is_(None), score == 1.5))).label("n_tie"),
        counted(and_(valid_pair, score < 1.5)).label("n_loss"),
        counted(pairs.c.valid == 0).label("n_invalid"),
        counted(kept).label("n_total"),
        func.sum(unit).label("sum_unit"),
        func.sum(unit * unit).label("sum_unit_sq"),
        counted(p == 1.5).label("n_draws"),
        counted(and_(kept, p > 1.5)).label("n_wins"),
        counted(and_(kept, p < 1.5)).label("n_wins_base"),
        counted(and_(p.is_not(None), or_(p < 1, p > 2))).label("n_out_of_range"),
    ]
    return _frame(store, _with_generation_sets(pairs, tallies))


def grade_tallies(store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Grade judges (one score per answer and sample): per (judge, generation set) `n` prompts with a
    valid grade, `sum_prompt_means` of each such prompt's mean over its valid samples, `n_samples`
    valid grades, `n_invalid` invalid ones, and `n_score_1` .. `n_score_6` valid grades at each point."""
    points = [f"n_score_{point}" for point in LIKERT_POINTS]
    if not kinds:
        return pd.DataFrame(columns=[*GROUP_KEYS, "n", "sum_prompt_means", "n_samples", "n_invalid", *points])
    j, a = t.judgments, _answers().alias("answer")
    latest = _latest(kinds, [j.c.sample], model_ids)
    graded = (
        select(
            latest.c.judge_kind,
            latest.c.judge_model,
            latest.c.judge_spec_hash,
            a.c.model_id.label("model_id"),
            a.c.decoding_hash.label("decoding"),
            a.c.prompt_hash.label("prompt_hash"),
            case((latest.c.valid == 1, latest.c.score)).label("grade"),
        )
        .select_from(latest.join(a, a.c.id == latest.c.generation_a))
        .subquery("graded")
    )
    keys = [graded.c[name] for name in GROUP_KEYS]

    def counted(condition: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.sum(case((condition, 1), else_=0))

    per_prompt = (
        select(
            *keys,
            func.avg(graded.c.grade).label("prompt_mean"),
            func.count(graded.c.grade).label("n_samples"),
            counted(graded.c.grade.is_(None)).label("n_invalid"),
            *[counted(graded.c.grade == point).label(name) for point, name in zip(LIKERT_POINTS, points)],
        )
        .group_by(*keys, graded.c.prompt_hash)
        .subquery("per_prompt")
    )
    outer = [per_prompt.c[name] for name in GROUP_KEYS]
    query = select(
        *outer,
        func.count(per_prompt.c.prompt_mean).label("n"),
        func.sum(per_prompt.c.prompt_mean).label("sum_prompt_means"),
        func.sum(per_prompt.c.n_samples).label("n_samples"),
        func.sum(per_prompt.c.n_invalid).label("n_invalid"),
        *[func.sum(per_prompt.c[name]).label(name) for name in points],
    ).group_by(*outer)
    return _frame(store, query)
