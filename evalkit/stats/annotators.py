"""Per-annotator figures for `evalkit annotate status`: labels done and the time each took.

Time per label is the median gap between an annotator's consecutive labels: the median, so a coffee
break between two labels does not count as one slow label.
"""

from __future__ import annotations

import math

import pandas as pd


def seconds_per_label(times: pd.Series) -> float:
    """Median seconds between consecutive labels; NaN with fewer than two labels."""
    ordered = pd.to_datetime(times).sort_values()
    gaps = ordered.diff().dropna().dt.total_seconds()
    return float(gaps.median()) if len(gaps) else math.nan


def annotator_table(labels: pd.DataFrame, agreement: dict[str, float]) -> pd.DataFrame:
    """One row per annotator: labels, seconds_per_label, agreement (with the others, NaN when alone).
    `labels` has `annotator` and `created_at`."""
    rows = [
        {
            "annotator": annotator,
            "labels": len(group),
            "seconds_per_label": seconds_per_label(group["created_at"]),
            "agreement": agreement.get(annotator, math.nan),
        }
        for annotator, group in labels.groupby("annotator", sort=True)
    ]
    return pd.DataFrame(rows, columns=["annotator", "labels", "seconds_per_label", "agreement"])
