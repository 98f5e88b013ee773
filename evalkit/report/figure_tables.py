"""Agreement and judge-quality figures as the report shows them: tables of shown text, each number with
the three decimals `evalkit agreement` and `evalkit judge-quality` print (evalkit.core.rounding), with
the figures as computed kept beside them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.rounding import format_figure, is_number
from evalkit.files.jsonio import json_safe
from evalkit.report.shown import MISSING

TABLE_DIGITS = 3  # as the command line's tables print fractions and statistics


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if is_number(value):
        return format_figure(value, TABLE_DIGITS)
    return MISSING if value is None else str(value)


def figure_table(title: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """{title, columns, rows (shown text), raw}: the rows' scalar fields (nested ones are left to `raw`);
    None for no rows."""
    raw = json_safe([dict(row) for row in rows])
    if not raw:
        return None
    columns = list(dict.fromkeys(key for row in raw for key, value in row.items() if not isinstance(value, (dict, list))))
    shown = [{column: _cell(row.get(column)) for column in columns} for row in raw]
    return {"title": title, "columns": columns, "rows": shown, "raw": raw}


def agreement_tables(url: str) -> list[dict[str, Any]]:
    """`evalkit agreement`'s tables of the store (humans with judges, or the judges alone), or none when
    there is nothing to compare (fewer than two raters on shared items)."""
    from evalkit.jobs.stats import agreement

    try:
        result = agreement(db=url).as_dict()
    except EvalkitError:
        return []
    vs_mode = [{"rater": rater, "agreement_with_mode": value} for rater, value in result["vs_mode"].items()]
    tables = [
        figure_table("pairs of raters (fractions; tie-discounted = LIMA's accuracy)", result["pairs"]),
        figure_table("each rater vs the mode of the others (AlpacaEval)", vs_mode),
        figure_table("judges: position consistency and length bias", result.get("judges") or []),
    ]
    return [table for table in tables if table is not None]


def judge_quality_tables(saved: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One table per saved judge-quality report (`evalkit judge-quality --save NAME`): the humans' row,
    then each judge's, best agreement first, as saved."""
    tables = []
    for entry in saved:
        report = entry.get("report") or {}
        rows = [report["humans"]] if isinstance(report.get("humans"), dict) else []
        rows += [judge for judge in report.get("judges") or [] if isinstance(judge, dict)]
        table = figure_table(f"{entry.get('name')} (saved {entry.get('created_at')}, {report.get('items', '?')} items)", rows)
        if table is not None:
            tables.append(table)
    return tables
