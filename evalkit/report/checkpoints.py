"""The report's Checkpoints view: per training run, each judge's figure by epoch with its interval (win
rate against each baseline, mean grade), the selection window and the latest pick with its reason and
evidence, as the leaderboard's Checkpoints page shows them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evalkit.core.ordering import natural_key
from evalkit.core.rounding import format_figure
from evalkit.decision.evidence import power_sentence, stored_record
from evalkit.report.shown import MISSING, grade, percent

DEFAULT_WINDOW = [5, 10]  # LIMA picks between epochs 5 and 10 (the window shown before any pick)


def _series(table: Mapping[str, Any], run: str, compares: bool, judge_labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """One line per decoding of the run's checkpoints in one leaderboard table."""
    rows = [row for row in table["rows"] if row["run"] == run and row["epoch"] is not None]
    by_decoding: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_decoding.setdefault(str(row["decoding_label"]), []).append(row)
    value, shown = ("win_rate", percent) if compares else ("mean", grade)
    what = f"win rate vs {table['baseline']} (%)" if compares else "mean grade"
    series = []
    for decoding, members in by_decoding.items():
        members.sort(key=lambda row: row["epoch"])
        name = f"{judge_labels.get(table['judge'], table['judge'])}: {what}"
        series.append(
            {
                "name": name if len(by_decoding) == 1 else f"{name} · {decoding}",
                "judge": table["judge"],
                "percent": compares,
                "points": [
                    {
                        "epoch": int(row["epoch"]),
                        "model": row["model"],
                        "value": row[value],
                        "low": row["ci_low"],
                        "high": row["ci_high"],
                        "shown": shown(row[value]),
                        "shown_low": shown(row["ci_low"]),
                        "shown_high": shown(row["ci_high"]),
                    }
                    for row in members
                ],
            }
        )
    return series


def shown_decision(record: Mapping[str, Any]) -> dict[str, Any]:
    """The decision record's figures as `evalkit pick` prints them (win rate one decimal, Likert two)."""
    rows = [
        {
            "name": row.get("name"),
            "epoch": row.get("epoch"),
            "win_rate": percent(row.get("win_rate")),
            "likert_mean": grade(row.get("likert_mean")),
            "n_valid": row.get("n_valid"),
            "tied_with_best": bool(row.get("tied_with_best")),
        }
        for row in record.get("evidence") or []
    ]
    significance = record.get("significance")
    versus = None
    if isinstance(significance, dict) and significance.get("runner_up") is not None:
        level = significance.get("level")
        # the level as the Checkpoints page prints it: "95%"
        level_shown = format_figure(100 * level, 0, missing=MISSING) if isinstance(level, (int, float)) else MISSING
        versus = (
            f"{significance.get('best')} − {significance.get('runner_up')} = {percent(significance.get('difference'), sign=True)} "
            f"win-rate points, {level_shown}% interval [{percent(significance.get('ci_low'), sign=True)}, "
            f"{percent(significance.get('ci_high'), sign=True)}] over {significance.get('n')} prompts"
        )
    return {"rows": rows, "versus_runner_up": versus, "power": power_sentence(dict(record))}


def _decision(decisions: list[Mapping[str, Any]], run: str) -> dict[str, Any] | None:
    mine = [row for row in decisions if row["run"] == run]
    if not mine:
        return None
    latest = mine[-1]
    record = stored_record(latest["evidence"])
    return {
        "chosen": latest["chosen_name"],
        "epoch": latest["epoch"],
        "policy": latest["policy"],
        "decided_at": latest["created_at"],
        "reason": record.get("reason"),
        "decided": record.get("decided", True),
        "record": record,
        "shown": shown_decision(record),
    }


def checkpoints(
    board: Mapping[str, Any], runs: list[str], decisions: list[Mapping[str, Any]], judge_labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One entry per training run (natural order): its series, window, picked epoch and decision."""
    views = []
    for run in sorted(runs, key=natural_key):
        decision = _decision(decisions, run)
        window = (decision or {}).get("record", {}).get("window") or DEFAULT_WINDOW
        series = [s for table in board["comparisons"] for s in _series(table, run, True, judge_labels)]
        series += [s for table in board["grades"] for s in _series(table, run, False, judge_labels)]
        views.append(
            {
                "run": run,
                "name": run.rstrip("/").rsplit("/", 1)[-1] or run,
                "window": [int(window[0]), int(window[-1])],
                "picked_epoch": None if decision is None or decision["epoch"] is None else int(decision["epoch"]),
                "series": [s for s in series if s["points"]],
                "decision": decision,
            }
        )
    return views
