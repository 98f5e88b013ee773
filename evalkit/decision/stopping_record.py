"""What `--stop-when-decided` saved, as the pick records it (`PickEvidence.stopping`) and prints it.

Derived from what is stored, never from a flag: a checkpoint judged by the headline judge on fewer
prompts than the set has was stopped (by the rule, or by a budget), whatever run judged it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.core.rounding import format_figure


@dataclass(frozen=True)
class CheckpointJudged:
    """One checkpoint: the prompts the headline judge judged it on (`judged`), the judgments of every
    judge of the run it got (`judgments`) and those judging the rest of the set would have taken."""

    name: str
    judged: int
    judgments: int
    judgments_saved: int


@dataclass(frozen=True)
class StoppingRecord:
    """`prompts`: the set's N; `judgments_total`: what judging every checkpoint on all N would take (each
    checkpoint's judgments per judged prompt, times N); `cost_saved_usd`: the saved judgments at the
    mean stored cost per judgment of the run (None when no judgment has a stored cost)."""

    prompts: int
    checkpoints: list[CheckpointJudged]
    judgments_saved: int
    judgments_total: int
    share_saved: float
    cost_saved_usd: float | None


def stopping_record(prompts: int, judged: Sequence[tuple[str, int, int]], mean_cost_usd: float | None) -> StoppingRecord:
    """The record from (name, prompts judged, judgments) per checkpoint. Made only for a pick asked to
    stop when decided: there it says what was saved even when nothing was (every checkpoint judged on
    every prompt: 0 saved), so the user learns the evidence never separated the checkpoints early."""
    rows = [CheckpointJudged(name, n, done, round(done * prompts / n) - done if n else 0) for name, n, done in judged]
    saved = sum(row.judgments_saved for row in rows)
    total = sum(row.judgments for row in rows) + saved
    return StoppingRecord(
        prompts=prompts,
        checkpoints=rows,
        judgments_saved=saved,
        judgments_total=total,
        share_saved=saved / total if total else 0.0,
        cost_saved_usd=None if mean_cost_usd is None else mean_cost_usd * saved,
    )


def stopping_lines(record: dict[str, Any]) -> list[str]:
    """`evalkit pick`'s lines for a record that has `stopping`: "decided after n of N prompts" per stopped
    checkpoint, then what was saved; [] for a record without it."""
    stopping = record.get("stopping")
    if not isinstance(stopping, dict):
        return []
    prompts = stopping["prompts"]
    lines = [
        f"  {row['name']:>10}  decided after {row['judged']} of {prompts} prompts"
        for row in stopping["checkpoints"]
        if row["judged"] < prompts
    ]
    cost = stopping.get("cost_saved_usd")
    price = f", about ${cost:.4f}" if cost else ""  # none stored, or free (offline) judges: no price to show
    none = "" if stopping["judgments_saved"] else ": no comparison was decided before the last prompt"
    lines.append(
        f"stopping when decided saved {stopping['judgments_saved']} of {stopping['judgments_total']} judgments "
        f"({format_figure(100 * stopping['share_saved'], 1)}%{price}){none}"
    )
    return lines
