"""Per-prompt tallies of stored judgments, the reading rules applied by the database (GROUP BY), not
by reading every judgment into Python.

At 1,000 checkpoints and 5M judgments, reading every judgment use into pandas (evalkit.results.reading)
costs tens of seconds and gigabytes; the leaderboard's summaries need only counts and sums per (judge,
generation set[, baseline generation set], prompt), the prompt being that of the model's answer. Any
prompt scope's figures, bootstrap intervals included, are sums of such cells, so these queries return
exactly the quantities `evalkit.results.summary` derives its figures from, with the same reading rules
as evalkit.results.tables:

- judgments are read through `judgment_uses` (a judgment shared by two identical answers counts for
  each), of uses whose generation exists;
- "the latest judgment" of a (judge, pair, order) or (judge, answer, sample) is the one with the
  highest id (the reader sorts by id and keeps the last);
- verdict judges count a pair only when judged in both orders: agreeing orders give the outcome,
  disagreeing ones a tie, an invalid order makes the pair invalid;
- preference judges (AlpacaEval's weighted one) keep one continuous preference per pair;
- grade judges (Likert) average a prompt's valid samples first, then the prompts.

The database reduces the judgments to one row per pair (or per answer and sample), streamed as a
compact frame (evalkit.store.compact_frames); evalkit.store.tally_cells sums those into the per-prompt
cells (at 5M judgments, ~2.5M cells), which was faster than grouping by string keys in SQL. With
`model_ids`, only those models' answers are tallied: what an incremental refresh re-reads
(evalkit.results.tally_refresh; `watermark` and `changed_since` say which). `verdict_reasons`,
`preference_reasons` and `grade_reasons` count the invalid ones per (group, prompt) by reason,
`out_of_range_preferences` lists the preferences AlpacaEval rounds. evalkit.results.tally_summary
turns the tallies into the summary's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Select, and_, case, cast, false, func, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from evalkit.core.records import JUDGE_COLUMNS
from evalkit.core.vocabulary import INVALID_REASON_KEY, MODEL_VIEW, OUTCOMES, TIE_CODE, UNPARSEABLE_REPLY
from evalkit.store import schema as t
from evalkit.store.compact_frames import ColumnKind, compact_frame
from evalkit.store.store import Store
from evalkit.store.tally_cells import answer_catalog, cells

GROUP_KEYS = [*JUDGE_COLUMNS, "model_id", "decoding"]
PAIR_GROUP_KEYS = [*GROUP_KEYS, "baseline_id", "baseline_decoding"]
PROMPT = "prompt_hash"  # the tallies' key after the group's: the prompt of the model's answer
# Tallies are kept compact: string keys as categories, counts as int32, sums as float64.
# Outcome codes: index into OUTCOMES (win, tie, loss); INVALID for a pair that cannot be counted.
INVALID = -1
LIKERT_POINTS = (1, 2, 3, 4, 5, 6)


def _judge_columns() -> list[ColumnElement[Any]]:
    j = t.judgments
    return [j.c.judge_kind, j.c.judge_model, j.c.judge_spec_hash]


def _uses_of(kinds: Sequence[str], model_ids: Sequence[int] | None, answers: Any = None) -> list[ColumnElement[Any]]:
    """Conditions on judgment uses: of these judge kinds and, with `model_ids`, answers of those models;
    with `answers` (a SELECT of generation ids), of those answers only."""
    j, u, g = t.judgments, t.judgment_uses, t.generations
    conditions: list[ColumnElement[Any]] = [j.c.judge_kind.in_(list(kinds))]
    if model_ids is not None:
        conditions.append(u.c.generation_a.in_(select(g.c.id).where(g.c.model_id.in_(list(model_ids)))))
    if answers is not None:
        conditions.append(u.c.generation_a.in_(answers))
    return conditions


def _latest(kinds: Sequence[str], per: Sequence[ColumnElement[Any]], model_ids: Sequence[int] | None, answers: Any = None) -> Any:
    """Subquery: the latest judgment (highest id) of each (judge, use's generations, `per`) of these
    kinds, as its key columns, `id`, `valid` (1 / 0) and `score`. Most keys hold one judgment, whose
    values the grouping itself yields; only re-judged keys are joined back to their latest row."""
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
        .where(*_uses_of(kinds, model_ids, answers))
        .group_by(*keys)
        .cte("grouped")
    )
    names = [str(key.name) for key in keys]
    once = select(*(grouped.c[name] for name in names), grouped.c.id, grouped.c.valid, grouped.c.score).where(
        grouped.c.copies == 1
    )
    rejudged = t.judgments.alias("rejudged")
    again = (
        select(
            *(grouped.c[name] for name in names),
            grouped.c.id,
            case((rejudged.c.valid.is_(True), 1), else_=0).label("valid"),
            rejudged.c.score,
        )
        .select_from(grouped.join(rejudged, rejudged.c.id == grouped.c.id))
        .where(grouped.c.copies > 1)
    )
    return union_all(once, again).subquery("latest")


def _model_view(j: Any = t.judgments) -> ColumnElement[Any]:
    """The evaluated model's outcome code of a judgment (of `j`, the judgments table or an alias of
    it) in its shown order (INVALID: invalid or unknown)."""
    whens = [
        (and_(j.c.order == order, j.c.verdict == verdict), literal(OUTCOMES.index(outcome)))
        for (order, verdict), outcome in MODEL_VIEW.items()
    ]
    return case((j.c.valid.is_(False), literal(INVALID)), *whens, else_=literal(INVALID))


def _pair_columns(pairs: Any) -> list[ColumnElement[Any]]:
    """The judge columns and both generation ids of a pairs subquery."""
    return [pairs.c.judge_kind, pairs.c.judge_model, pairs.c.judge_spec_hash, pairs.c.generation_a, pairs.c.generation_b]


def _pair_rows(store: Store, query: Select[Any], kinds: dict[str, ColumnKind]) -> pd.DataFrame:
    """The reading rules' one row per pair (or per answer and sample), streamed compactly: judge columns
    as categories, generation ids as integers, other columns as `kinds` says (else float64, NULL: NaN)."""
    ids: dict[str, ColumnKind] = {"generation_a": "int64", "generation_b": "int64"}
    return compact_frame(store, query, {**{name: "category" for name in JUDGE_COLUMNS}, **ids, **kinds})


def _cells_of(
    store: Store,
    rows: pd.DataFrame,
    values: dict[str, np.ndarray],
    model_ids: Sequence[int] | None,
    catalog: pd.DataFrame | None,
    paired: bool,
) -> pd.DataFrame:
    """`values` summed per (judge, generation set[, baseline generation set], prompt), counts (`n_...`)
    as int32. `catalog` (tally_cells.answer_catalog of every answer) is read once by a caller that
    tallies several judge types; without it, the answers these rows name are read."""
    if catalog is None:
        named = rows["generation_a"].to_numpy()
        if paired:
            named = np.concatenate([named, rows["generation_b"].to_numpy()])
        catalog = answer_catalog(store, np.unique(named).tolist() if model_ids is not None else None)
    tallies = cells(rows, catalog, values, paired=paired, lengths=paired)
    counts = {name: "int32" for name in tallies.columns if name.startswith("n_")}
    return tallies.astype(counts) if counts else tallies


def _empty(keys: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """No tallies: the columns of a query's result, the prompt after the group's keys."""
    return pd.DataFrame(columns=[*keys, PROMPT, *columns])


def _answers() -> Any:
    """Generations without their text (only its length): joining the full rows would carry every
    answer's text through the database's sort. The OFFSET 0 keeps it so: without it PostgreSQL pulls
    the subquery up into the join and computes the length after the join and the sort, with the text
    carried along (5M judgments: a 1.8 GB on-disk sort; the verdict tallies took 20.2 s, 14.6 s with it)."""
    g = t.generations
    lengths = select(g.c.id, g.c.model_id, g.c.decoding_hash, g.c.prompt_hash, func.length(g.c.text).label("length"))
    return lengths.offset(0).subquery()


def _generation_sets(pairs: Any) -> tuple[list[ColumnElement[Any]], Any, Any]:
    """(judge, both generation sets' and the prompt's key columns; `pairs` joined to both answers; the
    model's answer) of `pairs`, a subquery with judge columns and generation_a/_b."""
    a, b = _answers().alias("answer"), _answers().alias("baseline")
    keys: list[ColumnElement[Any]] = [
        pairs.c.judge_kind,
        pairs.c.judge_model,
        pairs.c.judge_spec_hash,
        a.c.model_id.label("model_id"),
        a.c.decoding_hash.label("decoding"),
        b.c.model_id.label("baseline_id"),
        b.c.decoding_hash.label("baseline_decoding"),
        a.c.prompt_hash.label(PROMPT),
    ]
    joined = pairs.join(a, a.c.id == pairs.c.generation_a).join(b, b.c.id == pairs.c.generation_b)
    return keys, joined, a


def watermark(store: Store) -> tuple[int, int]:
    """(highest judgment id, number of judgment uses): what a refresh of tallies starts from."""
    j, u = t.judgments, t.judgment_uses
    with store.engine.connect() as conn:
        highest = conn.execute(select(func.coalesce(func.max(j.c.id), 0))).scalar_one()
        uses = conn.execute(select(func.count()).select_from(u)).scalar_one()
    return int(highest), int(uses)


def judgment_keys(store: Store, judgment_ids: Sequence[int]) -> list[str | None]:
    """The cache key of each of these judgments (None where there is none): what says whether a judgment
    id still names the judgment a saved state saw (a store deleted and written again reuses its ids)."""
    j = t.judgments
    with store.engine.connect() as conn:
        found = dict(conn.execute(select(j.c.id, j.c.cache_key).where(j.c.id.in_(list(judgment_ids)))).fetchall())
    return [found.get(judgment_id) for judgment_id in judgment_ids]


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


def _verdict_pairs(kinds: Sequence[str], model_ids: Sequence[int] | None, answers: Any = None) -> Any:
    """Subquery: each pair a verdict judge judged in both orders, with `ab` and `ba` = its latest
    judgment's id * 4 + the model's outcome code + 1 in that order."""
    j, u = t.judgments, t.judgment_uses
    # One pass: the latest judgment of each order wins, so its outcome rides in the low bits of the
    # largest (id, outcome) code: max(id * 4 + outcome + 1) names the latest id and carries its outcome.
    code = cast(j.c.id, BigInteger) * 4 + _model_view() + 1

    def latest_in(order: str) -> ColumnElement[Any]:
        return func.max(case((j.c.order == order, code)))

    ab, ba = latest_in("AB"), latest_in("BA")
    pair_keys = [*_judge_columns(), u.c.generation_a, u.c.generation_b]
    return (
        select(*pair_keys, ab.label("ab"), ba.label("ba"))
        .select_from(u.join(j, j.c.cache_key == u.c.cache_key))
        .where(*_uses_of(kinds, model_ids, answers), u.c.generation_b.is_not(None), j.c.order.in_(["AB", "BA"]))
        .group_by(*pair_keys)
        .having(and_(ab.is_not(None), ba.is_not(None)))  # judged in both orders (an inner merge of the two)
        .subquery("pairs")
    )


def _views(pairs: Any) -> tuple[ColumnElement[Any], ColumnElement[Any], ColumnElement[Any]]:
    """(model's outcome code in AB, in BA, of the pair) of `_verdict_pairs`' rows."""
    view_ab, view_ba = pairs.c.ab % 4 - 1, pairs.c.ba % 4 - 1
    outcome = case(
        (or_(view_ab == INVALID, view_ba == INVALID), literal(INVALID)),
        (view_ab == view_ba, view_ab),
        else_=literal(TIE_CODE),
    )
    return view_ab, view_ba, outcome


def verdict_tallies(
    store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None, catalog: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Verdict judges (both orders): per (judge, generation set, baseline generation set, prompt) the
    number of pairs won, tied, lost and invalid (`n_win`, `n_tie`, `n_loss`, `n_invalid`), `n_rows`
    pairs in all and `sum_model_len` (characters of the model's answers over those pairs)."""
    if not kinds:
        return _empty(PAIR_GROUP_KEYS, ["n_win", "n_tie", "n_loss", "n_invalid", "sum_model_len", "n_rows"])
    pairs = _verdict_pairs(kinds, model_ids)
    _, _, outcome = _views(pairs)
    rows = _pair_rows(store, select(*_pair_columns(pairs), outcome.label("outcome")), {"outcome": "int32"})
    codes = rows["outcome"].to_numpy()
    counts = {f"n_{name}": codes == OUTCOMES.index(name) for name in OUTCOMES} | {"n_invalid": codes == INVALID}
    return _cells_of(store, rows, counts, model_ids, catalog, paired=True)


def _preference_pairs(kinds: Sequence[str], model_ids: Sequence[int] | None, answers: Any = None) -> Any:
    """Subquery: each pair's latest judgment by a preference judge, with its `preference` as AlpacaEval
    reads it (valid only; 0 read as a tie, 1.5)."""
    latest = _latest(kinds, [], model_ids, answers)
    valid = latest.c.valid == 1
    preference = case((and_(valid, latest.c.score == 0), literal(1.5)), (valid, latest.c.score))
    return (
        select(
            latest.c.judge_kind,
            latest.c.judge_model,
            latest.c.judge_spec_hash,
            latest.c.generation_a,
            latest.c.generation_b,
            latest.c.id,
            latest.c.valid,
            latest.c.score,
            preference.label("preference"),
        )
        .where(latest.c.generation_b >= 0)
        .subquery("pairs")
    )


def preference_tallies(
    store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None, catalog: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Preference judges (one continuous preference per pair, 1 = baseline wins, 2 = model wins): per
    (judge, generation set, baseline generation set, prompt) the outcomes
    (`n_win` above 1.5, `n_loss` below, `n_tie` otherwise, `n_invalid`), and over the preferences
    AlpacaEval keeps (valid, 0 read as 1.5, within [1, 2]): `n_total`, `sum_unit` and `sum_unit_sq` of
    preference - 1, `n_draws` (exactly 1.5), `n_wins`, `n_wins_base` (valid preferences outside [1, 2],
    whose discrete view AlpacaEval rounds, are listed by `out_of_range_preferences`). Plus `n_rows` and
    `sum_model_len`."""
    columns = ["n_win", "n_tie", "n_loss", "n_invalid", "n_total", "sum_unit", "sum_unit_sq", "n_draws", "n_wins"]
    if not kinds:
        return _empty(PAIR_GROUP_KEYS, [*columns, "n_wins_base", "sum_model_len", "n_rows"])
    pairs = _preference_pairs(kinds, model_ids)
    columns = [pairs.c.valid, pairs.c.score, pairs.c.preference]
    rows = _pair_rows(store, select(*_pair_columns(pairs), *columns), {"valid": "int32"})
    valid, score, p = rows["valid"].to_numpy() == 1, rows["score"].to_numpy(), rows["preference"].to_numpy()
    with np.errstate(invalid="ignore"):  # NaN (no preference) compares False, as NULL does in SQL
        kept = (p >= 1) & (p <= 2)
        unit = np.where(kept, p - 1, 0.0)
        values = {
            "n_win": valid & (score > 1.5),
            "n_tie": valid & (np.isnan(score) | (score == 1.5)),
            "n_loss": valid & (score < 1.5),
            "n_invalid": ~valid,
            "n_total": kept,
            "sum_unit": unit,
            "sum_unit_sq": unit * unit,
            "n_draws": p == 1.5,
            "n_wins": kept & (p > 1.5),
            "n_wins_base": kept & (p < 1.5),
        }
    return _cells_of(store, rows, values, model_ids, catalog, paired=True)


def _graded(kinds: Sequence[str], model_ids: Sequence[int] | None, answers: Any = None) -> Any:
    """Subquery: each (judge, answer, sample)'s latest grade (`grade` NULL when invalid or missing), its
    judgment `id` and the answer's generation set and prompt."""
    j, a = t.judgments, _answers().alias("answer")
    latest = _latest(kinds, [j.c.sample], model_ids, answers)
    return (
        select(
            latest.c.judge_kind,
            latest.c.judge_model,
            latest.c.judge_spec_hash,
            a.c.model_id.label("model_id"),
            a.c.decoding_hash.label("decoding"),
            a.c.prompt_hash.label(PROMPT),
            latest.c.id,
            case((latest.c.valid == 1, latest.c.score)).label("grade"),
        )
        .select_from(latest.join(a, a.c.id == latest.c.generation_a))
        .subquery("graded")
    )


def grade_tallies(
    store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None, catalog: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Grade judges (one score per answer and sample): per (judge, generation set, prompt) the prompt's
    mean over its valid samples, `prompt_mean` (NULL / NaN when no sample is valid: the prompt then
    takes no part in the mean grade), `n_samples` valid grades, `n_invalid` invalid ones and
    `n_score_1` .. `n_score_6` valid grades at each point."""
    points = [f"n_score_{point}" for point in LIKERT_POINTS]
    if not kinds:
        return _empty(GROUP_KEYS, ["prompt_mean", "n_samples", "n_invalid", *points])
    latest = _latest(kinds, [t.judgments.c.sample], model_ids)
    grade = case((latest.c.valid == 1, latest.c.score)).label("grade")
    columns = [latest.c.judge_kind, latest.c.judge_model, latest.c.judge_spec_hash, latest.c.generation_a, grade]
    rows = _pair_rows(store, select(*columns), {})
    grades = rows["grade"].to_numpy()
    graded = ~np.isnan(grades)
    values = {
        "sum_grades": np.where(graded, grades, 0.0),
        "n_samples": graded,
        "n_invalid": ~graded,
        **{name: grades == point for point, name in zip(LIKERT_POINTS, points)},
    }
    tallies = _cells_of(store, rows, values, model_ids, catalog, paired=False)
    if tallies.empty:
        return _empty(GROUP_KEYS, ["prompt_mean", "n_samples", "n_invalid", *points])
    samples = tallies["n_samples"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # no valid sample: no mean (NaN), as SQL's AVG gives NULL
        means = np.where(samples > 0, tallies["sum_grades"].to_numpy() / samples, np.nan)
    tallies.insert(tallies.columns.get_loc("sum_grades"), "prompt_mean", means)
    return tallies.drop(columns="sum_grades")


# Invalid judgments and out-of-range preferences are few (~1% of judgments): the queries below first
# pick the answers with at least one such judgment (`_answers_with`), then apply the reading rules to
# those answers' judgments only, so their results, and most of their work, are small.


def _answers_with(kinds: Sequence[str], condition: Any) -> Select[Any]:
    """SELECT of the answers with a judgment of these kinds for which `condition(judgments alias)` holds."""
    j, u = t.judgments.alias("suspect"), t.judgment_uses.alias("suspect_use")
    return (
        select(u.c.generation_a)
        .select_from(u.join(j, j.c.cache_key == u.c.cache_key))
        .where(j.c.judge_kind.in_(list(kinds)), condition(j))
    )


def _reason_of(judgments: Any) -> ColumnElement[Any]:
    """The stored reason of an invalid judgment (NULL for a valid one or one stored without a reason), as
    evalkit.store.result_reads.invalid_reasons reads it."""
    return case((judgments.c.valid == false(), judgments.c.extra[INVALID_REASON_KEY].as_string()))


def _reason_frame(store: Store, query: Select[Any]) -> pd.DataFrame:
    """Reason counts as a plain frame (few rows); a missing reason is an unreadable reply, as
    evalkit.results.tables gives it (the only way a judgment was invalid before reasons were stored)."""
    with store.engine.connect() as conn:
        result = conn.execute(query)
        names = list(result.keys())
        at = names.index("reason")
        rows = [(*row[:at], UNPARSEABLE_REPLY if row[at] is None else str(row[at]), *row[at + 1 :]) for row in result]
    frame = pd.DataFrame(rows, columns=names)
    frame["n"] = frame["n"].astype("int64")
    return frame


def verdict_reasons(store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Invalid pairs of verdict judges by reason: per (judge, generation sets, prompt, `reason`) their
    number `n`. A pair's reason is that of its latest judgment in AB when that one is invalid, else
    that of its latest in BA (evalkit.results.tables' rule)."""
    if not kinds:
        return _empty(PAIR_GROUP_KEYS, ["reason", "n"])
    pairs = _verdict_pairs(kinds, model_ids, _answers_with(kinds, lambda j: _model_view(j) == INVALID))
    view_ab, _, outcome = _views(pairs)
    chosen = case((view_ab == INVALID, pairs.c.ab), else_=pairs.c.ba)
    invalid = (
        select(pairs.c.judge_kind, pairs.c.judge_model, pairs.c.judge_spec_hash, pairs.c.generation_a, pairs.c.generation_b)
        .add_columns((chosen // 4).label("id"))
        .where(outcome == INVALID)
        .subquery("invalid")
    )
    return _pair_reasons(store, invalid)


def preference_reasons(store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Invalid pairs of preference judges by reason: per (judge, generation sets, prompt, `reason`) `n`."""
    if not kinds:
        return _empty(PAIR_GROUP_KEYS, ["reason", "n"])
    pairs = _preference_pairs(kinds, model_ids, _answers_with(kinds, lambda j: j.c.valid.is_(False)))
    invalid = select(pairs).where(pairs.c.valid == 0).subquery("invalid")
    return _pair_reasons(store, invalid)


def _pair_reasons(store: Store, invalid: Any) -> pd.DataFrame:
    keys, joined, _ = _generation_sets(invalid)
    reasoned = t.judgments.alias("reasoned")
    reason = _reason_of(reasoned).label("reason")
    query = (
        select(*keys, reason, func.count().label("n"))
        .select_from(joined.join(reasoned, reasoned.c.id == invalid.c.id))
        .group_by(*keys, reason)
    )
    return _reason_frame(store, query)


def grade_reasons(store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """Invalid grades (invalid judgments, or valid ones without a score) by reason: per (judge,
    generation set, prompt, `reason`) `n`."""
    if not kinds:
        return _empty(GROUP_KEYS, ["reason", "n"])
    graded = _graded(kinds, model_ids, _answers_with(kinds, lambda j: or_(j.c.valid.is_(False), j.c.score.is_(None))))
    reasoned = t.judgments.alias("reasoned")
    keys = [graded.c[name] for name in [*GROUP_KEYS, PROMPT]]
    reason = _reason_of(reasoned).label("reason")
    query = (
        select(*keys, reason, func.count().label("n"))
        .select_from(graded.join(reasoned, reasoned.c.id == graded.c.id))
        .where(graded.c.grade.is_(None))
        .group_by(*keys, reason)
    )
    return _reason_frame(store, query)


def out_of_range_preferences(store: Store, kinds: Sequence[str], model_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """The valid preferences outside [1, 2] (0 excepted: a tie) that pairs' latest judgments hold, one
    row each: (judge, generation sets, prompt, `preference`). AlpacaEval's win rate drops them, its
    discrete win rate rounds them (evalkit.stats.winrate.discrete_preferences)."""
    if not kinds:
        return _empty(PAIR_GROUP_KEYS, ["preference"])

    def outside(j: Any) -> ColumnElement[Any]:
        return and_(j.c.valid.is_(True), j.c.score != 0, or_(j.c.score < 1, j.c.score > 2))

    pairs = _preference_pairs(kinds, model_ids, _answers_with(kinds, outside))
    p = pairs.c.preference
    keys, joined, _ = _generation_sets(pairs)
    query = select(*keys, p.label("preference")).select_from(joined).where(p.is_not(None), or_(p < 1, p > 2))
    with store.engine.connect() as conn:
        result = conn.execute(query)
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    frame["preference"] = frame["preference"].astype(float)
    return frame
