"""Judge-quality reports kept in the store (`evalkit judge-quality --save NAME`), for the leaderboard.

A report is stored whole, as JSON, under a name; saving a name again adds a newer version and readers
take the newest, so earlier reports are never changed."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import insert, select

from evalkit.jsonio import json_safe
from evalkit.store import schema as t


def save_report(store: Any, name: str, report: dict[str, Any]) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(t.judge_quality_reports), [{"name": name, "report": json_safe(report)}])


def saved_reports(store: Any) -> pd.DataFrame:
    """The newest report of each name: columns id, name, report (dict), created_at; oldest name first."""
    r = t.judge_quality_reports
    frame = store.frame(select(r.c.id, r.c.name, r.c.report, r.c.created_at).order_by(r.c.id))
    return frame.drop_duplicates("name", keep="last").reset_index(drop=True)
