"""Human labels in and out of the store, in two formats.

- `alpaca_eval`: AlpacaEval's cross-annotations (one row per label: instruction, output_1, output_2,
  generator_1/2, preference 1 = output_1 better, 2 = output_2 better, 1.5 = tie, annotator_index),
  which alpaca-eval's `analyze.Analyzer` reads as `gold_crossannotations`. output_1 is the answer shown
  as "Answer A", so a label and its row say the same thing. Pairwise batches only.
- `labels`: evalkit's rater-label JSONL (`item`, `rater`, `label`), the format `evalkit agreement
  --labels` reads; `item` is "BATCH#POSITION", stable across stores that hold the same batch.

Import is idempotent: labels are insert-only with one label per (annotator, item), so reading a file
twice adds nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select

from evalkit.errors import EvalkitError
from evalkit.store import annotations as pairwise
from evalkit.store import ratings
from evalkit.store import schema as t
from evalkit.store.invitations import find_batch
from evalkit.store.store import Store

FORMATS = ("alpaca_eval", "labels")
PREFERENCE = {"A": 1.0, "B": 2.0, "tie": 1.5}
LABEL_OF_PREFERENCE = {value: label for label, value in PREFERENCE.items()}


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int  # already in the store (same annotator and item), or the item had its K labels


def _pairwise_items(store: Store, batch: int) -> pd.DataFrame:
    """Items with what was shown: instruction, answer A / B texts and the models behind them."""
    i, p, b, ga, gb = t.annotation_items, t.prompts, t.annotation_batches, t.generations.alias("ga"), t.generations.alias("gb")
    ma, mb = t.models.alias("ma"), t.models.alias("mb")
    query = (
        select(
            i.c.id.label("item_id"),
            i.c.position,
            i.c.order,
            p.c.instruction,
            ga.c.text.label("model_text"),
            gb.c.text.label("baseline_text"),
            ma.c.name.label("model"),
            mb.c.name.label("baseline"),
        )
        .join(p, p.c.hash == i.c.prompt_hash)
        .join(b, b.c.id == i.c.batch_id)
        .join(ga, ga.c.id == i.c.generation_a)
        .join(gb, gb.c.id == i.c.generation_b)
        .join(ma, ma.c.id == b.c.model_id)
        .join(mb, mb.c.id == b.c.baseline_id)
        .where(i.c.batch_id == batch)
        .order_by(i.c.position)
    )
    items = store.frame(query)
    model_first = items["order"] == "AB"
    items["output_1"] = items["model_text"].where(model_first, items["baseline_text"])
    items["output_2"] = items["baseline_text"].where(model_first, items["model_text"])
    items["generator_1"] = items["model"].where(model_first, items["baseline"])
    items["generator_2"] = items["baseline"].where(model_first, items["model"])
    return items


def _positions(store: Store, kind: str, batch: int) -> pd.Series:
    table = t.annotation_items if kind == "pairwise" else t.rating_items
    frame = store.frame(select(table.c.id, table.c.position).where(table.c.batch_id == batch))
    return frame.set_index("id")["position"]


def export_labels(store: Store, batch_name: str, fmt: str) -> list[dict[str, Any]]:
    """The batch's human labels as rows of `fmt`, in label order."""
    if fmt not in FORMATS:
        raise EvalkitError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    kind, batch = find_batch(store, batch_name)
    stored = pairwise.labels(store, batch) if kind == "pairwise" else ratings.ratings(store, batch)
    if fmt == "labels":
        position = _positions(store, kind, batch)
        return [
            {"item": f"{batch_name}#{position[item]}", "rater": rater, "label": label}
            for item, rater, label in zip(stored["item_id"], stored["annotator"], stored["label"])
        ]
    if kind != "pairwise":
        raise EvalkitError(f"batch {batch_name!r} holds absolute ratings; AlpacaEval's format is pairwise, use --format labels")
    items = _pairwise_items(store, batch).set_index("item_id")
    annotators = {name: index for index, name in enumerate(dict.fromkeys(stored["annotator"]))}
    rows = []
    for item_id, annotator, label in zip(stored["item_id"], stored["annotator"], stored["label"]):
        item = items.loc[item_id]
        rows.append(
            {
                "instruction": item["instruction"],
                "output_1": item["output_1"],
                "output_2": item["output_2"],
                "generator_1": item["generator_1"],
                "generator_2": item["generator_2"],
                "preference": PREFERENCE[label],
                "annotator_index": annotators[annotator],
                "annotator": annotator,
                "dataset": batch_name,
            }
        )
    return rows


def _labels_rows(store: Store, batch_name: str, kind: str, batch: int, rows: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    by_position = {int(p): int(i) for i, p in _positions(store, kind, batch).items()}
    out = []
    for number, row in enumerate(rows, start=1):
        if not {"item", "rater", "label"} <= set(row):
            raise EvalkitError(f"labels row {number} lacks item, rater or label; each row needs all three")
        name, _, position = str(row["item"]).rpartition("#")
        if name != batch_name or not position.isdigit() or int(position) not in by_position:
            raise EvalkitError(f"labels row {number}: item {row['item']!r} is not an item of batch {batch_name!r}")
        out.append((str(row["rater"]), by_position[int(position)], str(row["label"])))
    return out


def _alpaca_rows(store: Store, batch: int, rows: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    """Rows matched to items by their texts; a row with output_1 and output_2 swapped is flipped."""
    items = _pairwise_items(store, batch)
    shown = {(r.instruction, r.output_1, r.output_2): (int(r.item_id), False) for r in items.itertuples()}
    shown.update({(r.instruction, r.output_2, r.output_1): (int(r.item_id), True) for r in items.itertuples()})
    out = []
    for number, row in enumerate(rows, start=1):
        found = shown.get((row.get("instruction"), row.get("output_1"), row.get("output_2")))
        if found is None:
            raise EvalkitError(f"alpaca_eval row {number} matches no item of the batch (instruction, output_1, output_2 differ)")
        label = LABEL_OF_PREFERENCE.get(float(row.get("preference", float("nan"))))
        if label is None:
            raise EvalkitError(f"alpaca_eval row {number}: preference must be 1, 1.5 or 2, got {row.get('preference')!r}")
        if found[1]:
            label = {"A": "B", "B": "A", "tie": "tie"}[label]
        annotator = row.get("annotator") or f"annotator_{row.get('annotator_index', 0)}"
        out.append((str(annotator), found[0], label))
    return out


def import_labels(store: Store, batch_name: str, fmt: str, rows: list[dict[str, Any]]) -> ImportResult:
    """Add the file's labels to the batch; every row is checked before anything is written."""
    if fmt not in FORMATS:
        raise EvalkitError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    kind, batch = find_batch(store, batch_name)
    if fmt == "alpaca_eval" and kind != "pairwise":
        raise EvalkitError(f"batch {batch_name!r} holds absolute ratings; import them with --format labels")
    parsed = _alpaca_rows(store, batch, rows) if fmt == "alpaca_eval" else _labels_rows(store, batch_name, kind, batch, rows)
    allowed = pairwise.LABELS if kind == "pairwise" else tuple(ratings.RATINGS)
    bad = next((label for _, _, label in parsed if label not in allowed), None)
    if bad is not None:
        raise EvalkitError(f"label {bad!r} does not fit batch {batch_name!r}; use one of {', '.join(allowed)}")
    added = 0
    for annotator, item, label in parsed:
        stored = (
            pairwise.add_label(store, annotator, item, label)
            if kind == "pairwise"
            else ratings.add_rating(store, annotator, item, label, batch=batch)
        )
        added += int(stored)
    return ImportResult(added, len(parsed) - added)
