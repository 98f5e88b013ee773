"""Judge-quality reports kept in the store (`evalkit judge-quality --save NAME`), for the leaderboard.

A report is stored whole, as JSON, under a name; saving a name again adds a newer version and readers
take the newest, so earlier reports are never changed."""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.files.jsonio import json_safe
from evalkit.store.judge_quality_reports import add_report, report_rows
from evalkit.store.store import Store


def save_report(store: Store, name: str, report: dict[str, Any]) -> None:
    add_report(store, name, json_safe(report))


def saved_reports(store: Store) -> pd.DataFrame:
    """The newest report of each name: columns id, name, report (dict), created_at; oldest name first."""
    frame = report_rows(store)
    return frame.drop_duplicates("name", keep="last").reset_index(drop=True)
