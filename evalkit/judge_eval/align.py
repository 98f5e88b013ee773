"""A judge's ready-made verdicts (`--judge-labels FILE`) put on the humans' items.

An item is found by its id (PandaLM's idx, MT-Bench's question_id:model_a:model_b:turn in either model
order, evalkit's item), else by its texts (instruction, both answers) in either order. A verdict on
the pair shown the other way round is flipped, so "A" always means the humans' first answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.core.vocabulary import SWAPPED
from evalkit.data.human_labels import LabelledPairs

FLIP = SWAPPED
VERDICT_COLUMNS = ["item", "sample", "label", "cost_usd", "seconds"]


@dataclass
class JudgeVerdicts:
    """One judge's verdicts on the humans' items: rows (item, sample, label, cost_usd, seconds), label
    in the pair's own order (None = invalid). `position`: position_consistency's figures when both
    orders were judged here; `details`: what identifies the configuration (source, model, spec hash)."""

    name: str
    verdicts: pd.DataFrame
    details: dict[str, Any] = field(default_factory=dict)
    position: dict[str, Any] | None = None
    unmatched: int = 0


def _text_index(pairs: pd.DataFrame) -> dict[tuple[str, str, str], tuple[str, bool]]:
    index: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for item, instruction, first, second in pairs[["item", "instruction", "output_1", "output_2"]].itertuples(index=False):
        if isinstance(instruction, str) and isinstance(first, str) and isinstance(second, str):
            index.setdefault((instruction, second, first), (item, True))
            index[(instruction, first, second)] = (item, False)
    return index


def _locate(judge: LabelledPairs, humans: LabelledPairs) -> dict[str, tuple[str, bool]]:
    """The judge file's item id -> (the humans' item, whether the pair is shown the other way round)."""
    known = set(humans.pairs["item"])
    by_text = _text_index(humans.pairs)
    located: dict[str, tuple[str, bool]] = {}
    for item, instruction, first, second in judge.pairs[["item", "instruction", "output_1", "output_2"]].itertuples(index=False):
        if item in known:
            located[item] = (item, False)
        elif item in humans.aliases:
            located[item] = humans.aliases[item]
        elif (instruction, first, second) in by_text:
            located[item] = by_text[(instruction, first, second)]
    return located


def judges_from_file(judge: LabelledPairs, humans: LabelledPairs) -> list[JudgeVerdicts]:
    """One JudgeVerdicts per rater named in the file (evalkit labels, MT-Bench `judge`, AlpacaEval
    `annotator`), or one named after the file when its rows do not name raters (PandaLM's annotator
    columns, AlpacaEval's annotator_index): then several labels of an item are the judge's samples."""
    located = _locate(judge, humans)
    labels = judge.labels
    found = labels["item"].map(lambda item: located.get(item))
    matched = labels[found.notna()].copy()
    if matched.empty:
        raise EvalkitError(
            f"{judge.path}: none of its {labels['item'].nunique()} items is in the human set {humans.path}; "
            "items are matched by id (PandaLM idx, MT-Bench question_id:model_a:model_b:turn, evalkit item) "
            "or by instruction and answers"
        )
    target = found[found.notna()]
    matched["item"] = [item for item, _ in target]
    flipped = [flip for _, flip in target]
    matched["label"] = [FLIP.get(label) if flip else label for label, flip in zip(matched["label"], flipped)]
    unmatched = int(labels.loc[found.isna(), "item"].nunique())
    if judge.explicit_raters:
        groups = [(str(rater), part) for rater, part in matched.groupby("rater", sort=True)]
    else:
        groups = [(Path(judge.path).stem, matched)]
    out = []
    for name, part in groups:
        part = part.assign(sample=part.groupby("item").cumcount())
        out.append(
            JudgeVerdicts(
                name,
                part[VERDICT_COLUMNS].reset_index(drop=True),
                {"source": judge.path, "format": judge.format},
                unmatched=unmatched,
            )
        )
    return out
