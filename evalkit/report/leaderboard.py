"""The report's leaderboard: the results layer's summary rows (what `evalkit stats summary --json` prints),
each with its model's run and epoch, its decoding's label and its figures as shown text; one table per
judge and baseline, best first, as the leaderboard sorts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from evalkit.core.ordering import natural_key
from evalkit.core.records import JUDGE_COLUMNS, JudgeIdentity
from evalkit.files.jsonio import json_safe
from evalkit.report.shown import GRADE_DIGITS, GRADE_FIELDS, PERCENT_FIELDS, WIN_RATE_DIGITS, shown_fields

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.results.summary import Summary


def judge_key(identity: JudgeIdentity) -> str:
    """The judge's identity as one string, the key the page looks judges up by."""
    return "|".join((identity.kind, identity.model, identity.spec_hash))


def judges_of(summary: Summary) -> list[dict[str, Any]]:
    """Every judge of the summary: key, kind, model, spec hash, readable label, whether it compares."""
    found: dict[JudgeIdentity, bool] = {}
    for compares, frame in ((True, summary.pairwise), (False, summary.single)):
        if frame.empty or "judge_kind" not in frame:
            continue
        for kind, model, spec in frame[list(JUDGE_COLUMNS)].drop_duplicates().itertuples(index=False):
            found[JudgeIdentity(str(kind), str(model), str(spec))] = compares
    clash = [(j.kind, j.model) for j in found]
    return [
        {
            "key": judge_key(judge),
            "kind": judge.kind,
            "model": judge.model,
            "spec_hash": judge.spec_hash,
            "label": f"{judge.kind} · {judge.model}"
            + (f" · {judge.spec_hash[:8]}" if clash.count((judge.kind, judge.model)) > 1 else ""),
            "compares": compares,
        }
        for judge, compares in sorted(found.items(), key=lambda item: (item[0].kind, item[0].model, item[0].spec_hash))
    ]


def _rows(frame: pd.DataFrame, models: Mapping[int, Mapping[str, Any]], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    rows = []
    for record in json_safe(frame.to_dict(orient="records")):
        model = models.get(int(record["model_id"]), {})
        record["judge"] = judge_key(JudgeIdentity(record["judge_kind"], record["judge_model"], record["judge_spec_hash"]))
        record["run"], record["epoch"] = model.get("run"), model.get("epoch")
        record["decoding_label"] = labels.get(record["decoding"], str(record["decoding"])[:12])
        rows.append(record)
    return rows


def _tables(rows: list[dict[str, Any]], compares: bool) -> list[dict[str, Any]]:
    """Rows grouped by judge (and baseline), each group best first; equal figures in natural model order."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key: tuple[str, ...] = (
            (row["judge"], str(row["baseline"]), str(row["baseline_decoding"])) if compares else (row["judge"],)
        )
        groups.setdefault(key, []).append(row)
    figure = "win_rate" if compares else "mean"
    tables = []
    for group, members in groups.items():
        members.sort(key=lambda row: natural_key(row["model"]))
        members.sort(key=lambda row: -row[figure] if row[figure] is not None else float("inf"))
        table: dict[str, Any] = {"judge": group[0], "rows": members}
        if compares:
            table["baseline"] = members[0]["baseline"]
        tables.append(table)
    return tables


def leaderboard(summary: Summary, models: Mapping[int, Mapping[str, Any]], decoding_labels: Mapping[str, str]) -> dict[str, Any]:
    """`comparisons`: one table per (comparing judge, baseline); `grades`: one per grading judge. Every
    row holds the summary's figures as stored (full precision) and, in `shown`, as the page prints them."""
    pairwise = _rows(summary.pairwise, models, decoding_labels) if "model_id" in summary.pairwise else []
    single = _rows(summary.single, models, decoding_labels) if "model_id" in summary.single else []
    for row in pairwise:
        row["shown"] = shown_fields(row, PERCENT_FIELDS, WIN_RATE_DIGITS)
    for row in single:
        row["shown"] = shown_fields(row, GRADE_FIELDS, GRADE_DIGITS)
    return {"comparisons": _tables(pairwise, compares=True), "grades": _tables(single, compares=False)}
