"""Judge-quality reports kept in the store (`evalkit judge-quality --save NAME`): each stored whole, as
JSON, under a name; saving a name again adds a row, so earlier reports are never changed."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select

from evalkit.store import schema as t
from evalkit.store.store import Store


def add_report(store: Store, name: str, report: dict[str, Any]) -> None:
    """`report` must already be JSON-safe."""
    with store.engine.begin() as conn:
        conn.execute(insert(t.judge_quality_reports), [{"name": name, "report": report}])


def report_rows(store: Store) -> pd.DataFrame:
    """Every saved report, oldest first: columns id, name, report (dict), created_at."""
    r = t.judge_quality_reports
    return store.frame(select(r.c.id, r.c.name, r.c.report, r.c.created_at).order_by(r.c.id))


def newest_report_id(store: Store) -> int:
    """The id of the newest saved report (0 when none): changes whenever a report is saved."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(t.judge_quality_reports.c.id), 0))).scalar_one())
