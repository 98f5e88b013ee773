"""Numbers a judging job reports: pairwise win/tie/loss, Likert mean with a 95% CI, AlpacaEval win rate.

Pure functions of the results tables (no I/O), plus the plain-text table the CLI prints.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from evalkit.stats.lima import likert_summary as lima_likert_summary


def pairwise_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Counts from the model's side. win_rate counts a tie as half a win, over valid pairs (percent)."""
    counts = table["outcome"].value_counts()
    wins, ties, losses, invalid = (int(counts.get(k, 0)) for k in ("win", "tie", "loss", "invalid"))
    valid = wins + ties + losses
    agree = int(((table["verdict_ab"] == table["verdict_ba"]) & table["verdict_ab"].notna()).sum())
    return {"n": int(len(table)), "wins": wins, "ties": ties, "losses": losses, "invalid": invalid,
            "win_rate": 100.0 * (wins + ties / 2) / valid if valid else math.nan, "orders_agree": agree}


def likert_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Each answer's grade is the mean of its valid samples; the CI is a bootstrap over prompts."""
    valid_mask = table["valid"].astype(bool)
    valid = table.loc[valid_mask]
    per_answer = valid.groupby(["prompt_hash", "model_id"])["score"].mean()
    # The same bootstrap over prompts as `evalkit stats` and the leaderboard, so one set of scores
    # never shows two different intervals.
    interval = lima_likert_summary(per_answer.to_numpy(dtype=float), clusters=per_answer.index.get_level_values(0).to_numpy())
    mean, low, high = interval["mean"], interval["ci_low"], interval["ci_high"]
    distribution = valid["score"].round().astype(int).value_counts().sort_index()
    return {"n_answers": int(len(per_answer)), "n_samples": int(len(table)), "mean": mean, "ci_low": low, "ci_high": high,
            "invalid": int((~valid_mask).sum()), "distribution": {str(k): int(v) for k, v in distribution.items()}}


def alpaca_summary(table: pd.DataFrame) -> dict[str, Any]:
    """AlpacaEval's own win rate and standard error (alpaca_eval.metrics) over the valid preferences."""
    from alpaca_eval.metrics import get_winrate

    valid_mask = table["valid"].astype(bool)
    valid = table.loc[valid_mask, "preference"].astype(float).tolist()
    invalid = int((~valid_mask).sum())
    if not valid:
        return {"n": int(len(table)), "win_rate": math.nan, "standard_error": math.nan, "invalid": invalid}
    metrics = get_winrate([{"preference": p} for p in valid])
    return {"n": int(len(table)), "win_rate": float(metrics["win_rate"]), "standard_error": float(metrics["standard_error"]),
            "n_wins": int(metrics["n_wins"]), "n_wins_base": int(metrics["n_wins_base"]), "n_draws": int(metrics["n_draws"]),
            "invalid": invalid}


def format_table(summary: dict[str, Any]) -> str:
    """Two aligned columns, one line per number; nested dicts (the score distribution) on one line."""
    lines = []
    width = max(len(key) for key in summary)
    for key, value in summary.items():
        if isinstance(value, float):
            shown = "-" if math.isnan(value) else f"{value:.4f}" if key == "cost_usd" else f"{value:.2f}"
        elif isinstance(value, dict):
            shown = "  ".join(f"{k}:{v}" for k, v in value.items()) or "-"
        else:
            shown = str(value)
        lines.append(f"{key.ljust(width)}  {shown}")
    return "\n".join(lines)
