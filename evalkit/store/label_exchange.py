"""Human labels in and out of the store, in two formats.

- `alpaca_eval`: AlpacaEval's cross-annotations (one row per label: instruction, output_1, output_2,
  generator_1/2, preference 1 = output_1 better, 2 = output_2 better, 1.5 = tie, annotator_index),
  which alpaca-eval's `analyze.Analyzer` reads as `gold_crossannotations`. output_1 is the answer shown
  as "Answer A", so a label and its row say the same thing. Rows also carry the label's `source`.
  Pairwise batches only.
- `labels`: evalkit's rater-label JSONL (`item`, `rater`, `label`), the format `evalkit agreement
  --labels` reads; `item` is "BATCH#POSITION", stable across stores that hold the same batch.

Import is idempotent: labels are insert-only with one label per (annotator, item), so reading a file
twice adds nothing the second time. It is all or nothing: every row is checked, then all are written in
one transaction. Imported labels record "import:FILE" as their source, and a file's rater never becomes
an invited annotator's name unless the admin says so (`--as-annotator`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from evalkit.core.errors import EvalkitError
from evalkit.core.vocabulary import LABEL_OF_PREFERENCE, LABEL_PREFERENCE, swapped
from evalkit.store import annotations as pairwise
from evalkit.store import ratings
from evalkit.store import schema as t
from evalkit.store.invitations import find_batch, invited_names
from evalkit.store.label_batches import item_positions, tables_of
from evalkit.store.label_writes import KINDS, NewLabel, check_annotator, write_labels
from evalkit.store.store import Store

FORMATS = ("alpaca_eval", "labels")


@dataclass(frozen=True)
class LabelFile:
    """The rows of a labels file, each with its place in the file for messages ("4": line 4 of a JSONL
    file; "1, row 3": row 3 of a JSON list, starting on line 1)."""

    path: str  # as the user named it: shown in messages, never stored
    rows: list[dict[str, Any]]
    places: list[str]

    @classmethod
    def of(cls, path: str, rows: list[dict[str, Any]]) -> LabelFile:
        """Rows not read from a file: each named by its row number."""
        return cls(path, rows, [f"row {number}" for number in range(1, len(rows) + 1)])

    def where(self, index: int) -> str:
        return f"{self.path}:{self.places[index]}"

    @property
    def source(self) -> str:
        """What its labels record as their source: the file's name without its folder, which can name a
        person's home or a private share, and would travel with the store and every export."""
        name = Path(self.path).name.encode("utf-8", "replace").decode("utf-8")  # an undecodable byte becomes "?"
        return f"import:{name}"


@dataclass(frozen=True)
class FileLabel:
    """One row of a file, checked against the batch: still under the file's rater name."""

    where: str
    rater: str
    item: int
    label: str


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int  # already in the store (same annotator and item), or the item had its K labels


def _pairwise_items(store: Store, batch: int) -> pd.DataFrame:
    """Items with what was shown: instruction, answer A / B texts and the models behind them."""
    tables = tables_of(store)
    i, p, b, ga, gb = tables.items, t.prompts, tables.batches, t.generations.alias("ga"), t.generations.alias("gb")
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


def export_labels(store: Store, batch_name: str, fmt: str) -> list[dict[str, Any]]:
    """The batch's human labels as rows of `fmt`, in label order."""
    if fmt not in FORMATS:
        raise EvalkitError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    kind, batch = find_batch(store, batch_name)
    stored = pairwise.labels(store, batch) if kind == "pairwise" else ratings.ratings(store, batch)
    if fmt == "labels":
        position = item_positions(store, batch)
        return [
            {"item": f"{batch_name}#{position[item]}", "rater": rater, "label": label}
            for item, rater, label in zip(stored["item_id"], stored["annotator"], stored["label"])
        ]
    if kind != "pairwise":
        raise EvalkitError(f"batch {batch_name!r} holds absolute ratings; AlpacaEval's format is pairwise, use --format labels")
    items = _pairwise_items(store, batch).set_index("item_id")
    annotators = {name: index for index, name in enumerate(dict.fromkeys(stored["annotator"]))}
    rows = []
    for item_id, annotator, label, source in zip(stored["item_id"], stored["annotator"], stored["label"], stored["source"]):
        item = items.loc[item_id]
        rows.append(
            {
                "instruction": item["instruction"],
                "output_1": item["output_1"],
                "output_2": item["output_2"],
                "generator_1": item["generator_1"],
                "generator_2": item["generator_2"],
                "preference": LABEL_PREFERENCE[label],
                "annotator_index": annotators[annotator],
                "annotator": annotator,
                "dataset": batch_name,
                "source": source if isinstance(source, str) else None,  # null: stored before sources were recorded
            }
        )
    return rows


def _shown(value: Any) -> str:
    """A value from a file, short, for a message; a list or object only by kind (it may nest deeply)."""
    if value is None or isinstance(value, (str, int, float)):
        return json.dumps(value, ensure_ascii=False)[:60]
    return "a list" if isinstance(value, list) else "an object"


def _text(row: dict[str, Any], key: str, where: str) -> str:
    if not isinstance(row[key], str):
        raise EvalkitError(f"{where}: {key} must be text, got {_shown(row[key])}")
    return row[key]


def _rater(value: Any, where: str) -> str:
    """A rater name from a file: text, or a number (written as text, as `evalkit agreement` reads it)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise EvalkitError(f"{where}: the rater must be a name, got {_shown(value)}")
    return str(value)


def _labels_rows(store: Store, file: LabelFile, batch_name: str, batch: int) -> list[FileLabel]:
    by_position = {int(p): int(i) for i, p in item_positions(store, batch).items()}
    out = []
    for index, row in enumerate(file.rows):
        where = file.where(index)
        if not {"item", "rater", "label"} <= set(row):
            raise EvalkitError(f"{where}: lacks item, rater or label; each row needs all three")
        name, _, position = _text(row, "item", where).rpartition("#")
        if name != batch_name or not (position.isascii() and position.isdigit()) or int(position) not in by_position:
            raise EvalkitError(f"{where}: item {_shown(row['item'])} is not an item of batch {batch_name!r}")
        out.append(FileLabel(where, _rater(row["rater"], where), by_position[int(position)], _text(row, "label", where)))
    return out


def _preference_label(value: Any, where: str) -> str:
    """AlpacaEval's preference (1, 1.5, 2; numbers only) as the label shown: A, tie, B."""
    label = None if isinstance(value, bool) or not isinstance(value, (int, float)) else LABEL_OF_PREFERENCE.get(float(value))
    if label is None:
        raise EvalkitError(f"{where}: preference must be 1, 1.5 or 2, got {_shown(value)}")
    return label


def _alpaca_rows(store: Store, file: LabelFile, batch: int) -> list[FileLabel]:
    """Rows matched to items by their texts; a row with output_1 and output_2 swapped is flipped."""
    items = _pairwise_items(store, batch)
    shown = {(r.instruction, r.output_1, r.output_2): (int(r.item_id), False) for r in items.itertuples()}
    shown.update({(r.instruction, r.output_2, r.output_1): (int(r.item_id), True) for r in items.itertuples()})
    out = []
    for index, row in enumerate(file.rows):
        where = file.where(index)
        key = (row.get("instruction"), row.get("output_1"), row.get("output_2"))
        found = shown.get(key) if all(isinstance(text, str) for text in key) else None
        if found is None:
            raise EvalkitError(f"{where}: matches no item of the batch (instruction, output_1, output_2 differ)")
        label = _preference_label(row.get("preference"), where)
        if found[1]:
            label = swapped(label)
        if row.get("annotator"):
            rater = _rater(row["annotator"], where)
        else:
            rater = f"annotator_{_rater(row.get('annotator_index', 0), where)}"
        out.append(FileLabel(where, rater, found[0], label))
    return out


def _attributed(store: Store, file: LabelFile, parsed: list[FileLabel], as_annotator: str | None) -> list[NewLabel]:
    """Who each label is stored under, and its source. Without --as-annotator a row is stored under its
    own rater, never under the name of someone invited to annotate (their labels come through their
    link); --as-annotator NAME stores a one-rater file's rows under NAME, saying so in the source."""
    if as_annotator is None:
        invited = invited_names(store)
        labels = []
        for row in parsed:
            name = check_annotator(row.rater, row.where)
            if name.casefold() in invited:
                raise EvalkitError(
                    f"{row.where}: rater {name!r} is an invited annotator, whose labels come only through their link; "
                    f"to import a file of their labels, pass --as-annotator {invited[name.casefold()]!r}"
                )
            labels.append(NewLabel(name, row.item, row.label, file.source))
        return labels
    name = check_annotator(as_annotator, "--as-annotator")
    raters = list(dict.fromkeys(row.rater for row in parsed))
    if len(raters) > 1:
        shown = ", ".join(repr(r) for r in raters[:3]) + (", ..." if len(raters) > 3 else "")
        raise EvalkitError(
            f"{file.path} holds the labels of {len(raters)} raters ({shown}); --as-annotator stores one rater's "
            "file under one name: split the file by rater"
        )
    source = f"{file.source} (--as-annotator; the file's rater: {raters[0]!r})" if raters else file.source
    return [NewLabel(name, row.item, row.label, source) for row in parsed]


def import_labels(store: Store, batch_name: str, fmt: str, file: LabelFile, as_annotator: str | None = None) -> ImportResult:
    """Add the file's labels to the batch: every row is checked first, then all are written in one
    transaction, so a bad row (or a failing database) leaves the store as it was."""
    if fmt not in FORMATS:
        raise EvalkitError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    kind, batch = find_batch(store, batch_name)
    if fmt == "alpaca_eval" and kind != "pairwise":
        raise EvalkitError(f"batch {batch_name!r} holds absolute ratings; import them with --format labels")
    parsed = _alpaca_rows(store, file, batch) if fmt == "alpaca_eval" else _labels_rows(store, file, batch_name, batch)
    allowed = KINDS[kind].labels
    bad = next((row for row in parsed if row.label not in allowed), None)
    if bad is not None:
        raise EvalkitError(f"{bad.where}: label {bad.label!r} does not fit batch {batch_name!r}; use one of {', '.join(allowed)}")
    labels = _attributed(store, file, parsed, as_annotator)
    added = write_labels(store, KINDS[kind], labels, batch=batch)
    return ImportResult(added, len(labels) - added)
