"""The reads behind `evalkit.results.reading`: every stored judgment use as integer codes, and the
generations, models and prompts that turn codes back into names.

A sweep of 100 checkpoints x 805 prompts x 3 judges is ~500k judgments. The database does the join of
judgments and their uses once and turns each repeated string into a small integer with CASE (there
are a handful of judges, two orders, three verdicts), and the rows come straight from the driver's
cursor: the results layer turns them into arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, false, func, literal, or_, select

from evalkit.core.vocabulary import INVALID_REASON_KEY, ORDERS, VERDICTS
from evalkit.store import schema as t
from evalkit.store.store import Store

JudgeIdentityRow = tuple[str, str, str]  # judge_kind, judge_model, judge_spec_hash


def among(column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN (ids)` with the integers written into the statement instead of bound one parameter
    each: SQLite caps a statement's bound parameters (32,766 in its default build; 250,000 in Debian's),
    and comparing two large models binds each of their answer ids twice. Integers only, so nothing a
    user typed is ever written into SQL."""
    return column.in_(bindparam(None, [int(i) for i in ids], expanding=True, literal_execute=True))


def judge_identities(
    store: Store, kinds: Sequence[str] | None = None, generation_ids: Sequence[int] | None = None
) -> list[JudgeIdentityRow]:
    """The distinct judges in the store, sorted (read from the ix_judgments_judge index alone); with
    `generation_ids`, those that judged these answers (through the uses' answer index: grouping every
    judgment of a 5M-judgment store takes ~0.4 s)."""
    j, u = t.judgments, t.judgment_uses
    columns = (j.c.judge_kind, j.c.judge_model, j.c.judge_spec_hash)
    query = select(*columns).group_by(*columns).order_by(*columns)
    if kinds is not None:
        query = query.where(j.c.judge_kind.in_(list(kinds)))
    if generation_ids is not None:
        query = query.join(u, u.c.cache_key == j.c.cache_key).where(among(u.c.generation_a, generation_ids))
    with store.engine.connect() as conn:
        return [(row[0], row[1], row[2]) for row in conn.execute(query).fetchall()]


@dataclass(frozen=True)
class Generations:
    """Every generation, sorted by id, as parallel columns."""

    ids: list[int]
    model_ids: list[int]
    prompt_hashes: list[str]
    lengths: list[int]  # characters (0 for an empty or missing text)
    decoding_hashes: list[str]


@dataclass(frozen=True)
class Catalog:
    """What turns a judgment use's ids into names: read in one transaction, so they agree."""

    model_names: dict[int, str]  # model id -> name
    instructions: dict[str, str]  # prompt hash -> instruction
    generations: Generations


def generation_ids_of(store: Store, model_ids: Sequence[int]) -> list[int]:
    """The ids of every answer these models gave (from the uq_generation index)."""
    g = t.generations
    with store.engine.connect() as conn:
        return list(conn.execute(select(g.c.id).where(g.c.model_id.in_(list(model_ids))).order_by(g.c.id)).scalars())


def read_catalog(store: Store, answers: Sequence[int] | None = None) -> Catalog:
    """Models, prompts and generations; with `answers`, only those generations and their prompts."""
    g = t.generations
    answer_rows = select(g.c.id, g.c.model_id, g.c.prompt_hash, func.length(g.c.text), g.c.decoding_hash).order_by(g.c.id)
    prompts = select(t.prompts.c.hash, t.prompts.c.instruction)
    if answers is not None:
        answer_rows = answer_rows.where(among(g.c.id, answers))
        prompts = prompts.where(t.prompts.c.hash.in_(select(g.c.prompt_hash).where(among(g.c.id, answers))))
    with store.engine.connect() as conn:
        names = dict(conn.execute(select(t.models.c.id, t.models.c.name)).fetchall())
        instructions = dict(conn.execute(prompts).fetchall())
        rows = conn.execute(answer_rows).fetchall()
    generations = Generations(
        [row[0] for row in rows],
        [row[1] for row in rows],
        [row[2] for row in rows],
        [row[3] or 0 for row in rows],
        [row[4] for row in rows],
    )
    return Catalog(names, instructions, generations)


def _code(column: ColumnElement[Any], values: Sequence[str]) -> ColumnElement[Any]:
    return case(*[(column == value, literal(index)) for index, value in enumerate(values)], else_=literal(-1))


def _uses_query(
    judges: Sequence[JudgeIdentityRow], kinds: Sequence[str] | None, answers: Sequence[int] | None = None
) -> Select[Any]:
    j, u = t.judgments, t.judgment_uses
    judge_code = case(
        *[
            (and_(j.c.judge_kind == kind, j.c.judge_model == model, j.c.judge_spec_hash == spec), literal(i))
            for i, (kind, model, spec) in enumerate(judges)
        ],
        else_=literal(-1),
    )
    query = (
        select(
            j.c.id,
            judge_code,
            _code(j.c.order, ORDERS),
            _code(j.c.verdict, VERDICTS),
            j.c.sample,
            j.c.score,
            j.c.valid,
            u.c.generation_a,
            func.coalesce(u.c.generation_b, -1),
        )
        .select_from(u)
        .join(j, j.c.cache_key == u.c.cache_key)
    )
    if kinds is not None:
        query = query.where(j.c.judge_kind.in_(list(kinds)))
    if answers is not None:  # uses between these answers only (both sides; a single-answer judgment has no b)
        query = query.where(among(u.c.generation_a, answers)).where(
            or_(u.c.generation_b.is_(None), among(u.c.generation_b, answers))
        )
    return query


def judgment_use_codes(
    store: Store, judges: Sequence[JudgeIdentityRow], kinds: Sequence[str] | None = None, answers: Sequence[int] | None = None
) -> list[tuple[Any, ...]]:
    """One tuple of numbers per use of a judgment (of these kinds; all when None; only uses between the
    generations `answers` when given), unsorted: id, judge
    (index into `judges`; -1 for a judge not among them), order (index into ORDERS; -1 none), verdict
    (index into VERDICTS; -1 none or other), sample, score (None when none), valid, generation_a,
    generation_b (-1 when none).

    Rows are plain tuples straight from the driver's cursor: SQLAlchemy's row objects cost ~0.4 s
    per 500k rows, more than the numbers themselves."""
    query = _uses_query(judges, kinds, answers)
    with store.engine.connect() as conn:
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.params
        args = tuple(params[name] for name in compiled.positiontup or ()) if compiled.positional else params
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]  # an open connection has one
        try:
            cursor.execute(str(compiled), args)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
        finally:
            cursor.close()


def invalid_reasons(store: Store, kinds: Sequence[str] | None = None, ids: Sequence[int] | None = None) -> dict[int, str]:
    """Judgment id -> stored invalid reason, for the invalid judgments that carry one (a few rows: the
    reason is read out of the JSON column by the database, never the whole column); only of the
    judgments `ids` when given (by primary key, where the whole store scans every judgment)."""
    j = t.judgments
    reason = j.c.extra[INVALID_REASON_KEY].as_string()
    query = select(j.c.id, reason).where(j.c.valid == false()).where(reason.is_not(None))
    if kinds is not None:
        query = query.where(j.c.judge_kind.in_(list(kinds)))
    if ids is not None:
        query = query.where(among(j.c.id, ids))
    with store.engine.connect() as conn:
        return {int(row[0]): str(row[1]) for row in conn.execute(query).fetchall()}
