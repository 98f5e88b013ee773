"""The row figures computed the plain way, on every comparing row at once: what the leaderboard's
chunked pass (leaderboard/row_figures.py) must equal."""

from __future__ import annotations

import pandas as pd

from evalkit.leaderboard.snapshot import LC_COLUMNS, scopes_of
from evalkit.stats.summary import summarize_pairwise


def length_control_table(comparisons: pd.DataFrame, prompt_sets: pd.DataFrame, judged: set[str]) -> pd.DataFrame:
    """Every comparing judge's length-controlled win rate per scope, from `summarize_pairwise` on all
    of the scope's rows (the summary's own LC fields: value, standard error, variant, withheld reason)."""
    parts = []
    for scope, hashes in scopes_of(prompt_sets, judged).items():
        part = comparisons[comparisons["prompt_hash"].isin(hashes)]
        if not part.empty:
            summary = summarize_pairwise(part, n_resamples=1, length_controlled=True)  # only its LC columns are kept
            parts.append(summary.assign(scope=scope)[LC_COLUMNS])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LC_COLUMNS)
