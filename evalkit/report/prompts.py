"""The report's per-prompt drill-down: the question (and the turns before it), the reference answer,
and for every comparison judged on it both answers, each judge's verdicts and the humans' labels;
for every graded answer each grading judge's scores; for every answer rated in an absolute batch the
annotators' ratings (report/ratings.py). Answers are kept once, by generation id, in `answers` (an
answer compared with ten checkpoints is written once)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from evalkit.core.ordering import natural_key
from evalkit.core.records import JUDGE_COLUMNS, JudgeIdentity
from evalkit.core.vocabulary import MODEL_VIEW
from evalkit.files.jsonio import json_safe
from evalkit.report.leaderboard import judge_key

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.results.tables import Tables

Pair = tuple[int, int]  # (model's generation id, baseline's generation id)


def _judge_keys(frame: pd.DataFrame) -> list[str]:
    return [judge_key(JudgeIdentity(*map(str, key))) for key in zip(*(frame[c] for c in JUDGE_COLUMNS))]


def _comparison_verdicts(tables: Tables, models: Collection[int]) -> dict[str, dict[Pair, dict[str, Any]]]:
    """prompt hash -> (model's answer, baseline's answer) -> the comparison with every judge's verdicts."""
    found: dict[str, dict[Pair, dict[str, Any]]] = {}
    for name, fields in (("pairwise", ("verdict_ab", "verdict_ba", "outcome")), ("alpaca", ("order", "outcome", "preference"))):
        frame = tables.of(name)
        if frame.empty:
            continue
        frame = frame[frame["model_id"].isin(models)]
        for judge, row in zip(_judge_keys(frame), json_safe(frame.to_dict(orient="records"))):
            pair = (int(row["generation_a"]), int(row["generation_b"]))
            comparison = found.setdefault(row["prompt_hash"], {}).setdefault(
                pair,
                {
                    "model": row["model"],
                    "baseline": row["baseline"],
                    "answer": pair[0],
                    "baseline_answer": pair[1],
                    "verdicts": [],
                    "humans": [],
                },
            )
            verdict = {"judge": judge, **{field: row.get(field) for field in fields}}
            if row.get("invalid_reason"):
                verdict["invalid_reason"] = row["invalid_reason"]
            comparison["verdicts"].append(verdict)
    return found


def _grades(tables: Tables, models: Collection[int]) -> dict[str, dict[tuple[int, str], dict[str, Any]]]:
    """prompt hash -> (answer, judge) -> the grading judge's scores of that answer."""
    frame = tables.of("single")
    found: dict[str, dict[tuple[int, str], dict[str, Any]]] = {}
    if frame.empty:
        return found
    frame = frame[frame["model_id"].isin(models)]
    for judge, row in zip(_judge_keys(frame), json_safe(frame.to_dict(orient="records"))):
        answer = int(row["generation_a"])
        graded = found.setdefault(row["prompt_hash"], {}).setdefault(
            (answer, judge), {"model": row["model"], "answer": answer, "judge": judge, "scores": []}
        )
        graded["scores"].append(row["score"] if row.get("valid", True) else None)
    return found


def _add_humans(comparisons: dict[str, dict[Pair, dict[str, Any]]], humans: pd.DataFrame) -> None:
    """Each human label beside the judges' verdicts on the same two answers, in the model's view."""
    for row in humans.itertuples(index=False):
        pair = (int(row.generation_a), int(row.generation_b))
        comparison = comparisons.get(str(row.prompt_hash), {}).get(pair)
        if comparison is not None:
            outcome = MODEL_VIEW.get((str(row.order), str(row.label)))
            comparison["humans"].append({"annotator": str(row.annotator), "label": str(row.label), "outcome": outcome})


def prompt_views(
    tables: Tables,
    prompts: pd.DataFrame,
    references: Mapping[str, str],
    humans: pd.DataFrame,
    models: Collection[int],
    rated: Mapping[str, list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], set[int]]:
    """One entry per judged or rated prompt (in the prompt set's stored order) and the ids of the answers
    they show; `rated`: prompt hash -> its rated answers (report.ratings.rated_answers)."""
    comparisons = _comparison_verdicts(tables, models)
    if not humans.empty:
        _add_humans(comparisons, humans)
    grades = _grades(tables, models)
    judged = set(comparisons) | set(grades) | set(rated)
    views: list[dict[str, Any]] = []
    answers: set[int] = set()
    for row in prompts.itertuples(index=False):
        if row.hash not in judged:
            continue
        messages = row.messages if isinstance(row.messages, list) else []
        compared = sorted(
            comparisons.get(row.hash, {}).values(), key=lambda c: (natural_key(c["model"]), natural_key(c["baseline"]))
        )
        graded = sorted(grades.get(row.hash, {}).values(), key=lambda g: (natural_key(g["model"]), g["judge"]))
        answers.update(a for c in compared for a in (c["answer"], c["baseline_answer"]))
        answers.update(g["answer"] for g in graded)
        answers.update(r["answer"] for r in rated.get(row.hash, []))
        views.append(
            {
                "hash": row.hash,
                "instruction": row.instruction,
                "context": json_safe(messages[:-1]),  # the turns before the question (multi-turn prompts)
                "reference": references.get(row.hash),
                "comparisons": compared,
                "grades": graded,
                "ratings": rated.get(row.hash, []),
            }
        )
    return views, answers
