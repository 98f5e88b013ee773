"""Human-labelled pairs (and judges' ready-made verdicts) from the formats people publish them in.

    alpaca_eval  AlpacaEval cross-annotations: instruction, output_1, output_2, preference (1 / 2 / 1.5;
                 0 = legacy tie; null = the annotator failed), annotator_index or annotator
    pandalm      PandaLM's test set: idx, instruction, input, response1, response2, annotator1..N (0 tie, 1, 2)
    mtbench      MT-Bench human judgments: question_id, model_a, model_b, winner, judge, turn, conversation_a/b
    labels       evalkit's labels JSONL: item, rater, label ("A" | "B" | "tie")

Every format becomes the same two tables: `pairs` (item, instruction, output_1, output_2; texts None
when the format has none) and `labels` (item, rater, label in the pair's own order: "A" = output_1 /
response1 / model_a; None = an invalid verdict). Item ids: PandaLM's idx as a string, MT-Bench's
"question_id:model_a:model_b:turn", evalkit's item, and for AlpacaEval (which has no id) a hash of the
three texts. A bad row stops with one line naming the file and line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.core.vocabulary import VERDICTS, swapped
from evalkit.files.userfile import UserFile

FORMATS: tuple[str, ...] = ("alpaca_eval", "pandalm", "mtbench", "labels")
PAIR_COLUMNS = ["item", "instruction", "output_1", "output_2"]
LABEL_COLUMNS = ["item", "rater", "label", "cost_usd", "seconds"]
# MT-Bench items may be named with any of these between question_id, model_a, model_b and turn
MTBENCH_SEPARATORS: tuple[str, ...] = (":", "|", "/", "-", "_", ",", " ")
_PANDALM_RATER = re.compile(r"annotator(\d+)$")
_PANDALM_LABELS = {0: "tie", 1: "A", 2: "B"}
_MTBENCH_WINNERS = {"model_a": "A", "model_b": "B", "tie": "tie", "tie (bothbad)": "tie"}


class BadRow(Exception):
    """A row that cannot be read; the reader adds the file and line."""


@dataclass(frozen=True)
class LabelledPairs:
    path: str
    format: str
    pairs: pd.DataFrame
    labels: pd.DataFrame
    explicit_raters: bool  # raters are named in the rows (labels, mtbench, alpaca_eval's `annotator`)
    aliases: dict[str, tuple[str, bool]] = field(default_factory=dict)  # other spelling -> (item, label flipped)


def detect_format(row: Any) -> str | None:
    if not isinstance(row, dict):
        return None
    if {"question_id", "model_a", "model_b", "winner"} <= row.keys():
        return "mtbench"
    if {"response1", "response2"} <= row.keys():
        return "pandalm"
    if {"output_1", "output_2", "preference"} <= row.keys():
        return "alpaca_eval"
    if {"item", "rater", "label"} <= row.keys():
        return "labels"
    return None


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise BadRow(f"{key!r} must be a string")
    return value


def _alpaca(row: dict[str, Any], state: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    instruction, first, second = _text(row, "instruction"), _text(row, "output_1"), _text(row, "output_2")
    preference = row.get("preference")
    if preference is None or (isinstance(preference, float) and math.isnan(preference)):
        label = None
    elif isinstance(preference, (int, float)) and not isinstance(preference, bool) and (preference == 0 or 1 <= preference <= 2):
        label = "tie" if preference in (0, 1.5) else "A" if preference < 1.5 else "B"
    else:
        raise BadRow(f"preference must be 1 (output_1), 2 (output_2), 1.5 (tie) or in between, got {preference!r}")
    # several labels of one item are told apart by annotator_index (cross-annotations); `annotator` names a judge
    rater = row["annotator_index"] if "annotator_index" in row else row.get("annotator")
    if "annotator_index" in row or "annotator" not in row:
        state["implicit_raters"] = True
    item = "ae-" + content_hash([instruction, first, second])[:12]
    return (
        {"item": item, "instruction": instruction, "output_1": first, "output_2": second},
        [
            {
                "item": item,
                "rater": None if rater is None else str(rater),
                "label": label,
                "cost_usd": row.get("price_per_example"),
                "seconds": row.get("time_per_example"),
            }
        ],
    )


def _pandalm(row: dict[str, Any], _state: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not isinstance(row.get("idx"), (int, str)) or isinstance(row.get("idx"), bool):
        raise BadRow("'idx' must be an integer or a string")
    instruction, extra = _text(row, "instruction"), row.get("input") or ""
    item = str(row["idx"])
    labels = []
    raters = {k: int(match.group(1)) for k in row if (match := _PANDALM_RATER.match(k))}
    for key in sorted(raters, key=raters.__getitem__):
        if row[key] not in _PANDALM_LABELS or isinstance(row[key], bool):
            raise BadRow(f"{key} must be 0 (tie), 1 (response1) or 2 (response2), got {row[key]!r}")
        labels.append({"item": item, "rater": key, "label": _PANDALM_LABELS[row[key]], "cost_usd": None, "seconds": None})
    if not labels:
        raise BadRow("no annotator1..N labels")
    instruction = f"{instruction}\n\n{extra}" if isinstance(extra, str) and extra.strip() else instruction
    return {
        "item": item,
        "instruction": instruction,
        "output_1": _text(row, "response1"),
        "output_2": _text(row, "response2"),
    }, labels


def _turn_texts(row: dict[str, Any], turn: int) -> tuple[str | None, str | None, str | None]:
    """(the dialog up to the turn's question, model_a's answer, model_b's answer) when conversations are given."""
    sides = []
    for key in ("conversation_a", "conversation_b"):
        conversation = row.get(key)
        if conversation is None:
            return None, None, None
        if (
            not isinstance(conversation, list)
            or len(conversation) < 2 * turn
            or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in conversation[: 2 * turn])
        ):
            raise BadRow(f"{key} must hold the user/assistant messages up to turn {turn}")
        sides.append(conversation)
    history = sides[0][: 2 * turn - 1]
    instruction = history[0]["content"] if turn == 1 else "\n\n".join(f"{m.get('role', 'user')}: {m['content']}" for m in history)
    return instruction, sides[0][2 * turn - 1]["content"], sides[1][2 * turn - 1]["content"]


def _mtbench(row: dict[str, Any], state: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    question, model_a, model_b, turn = row["question_id"], row["model_a"], row["model_b"], row.get("turn", 1)
    if not isinstance(model_a, str) or not isinstance(model_b, str) or not isinstance(turn, int) or turn < 1:
        raise BadRow("model_a and model_b must be strings and turn a positive integer")
    if row["winner"] not in _MTBENCH_WINNERS:
        raise BadRow(f"winner must be one of {', '.join(_MTBENCH_WINNERS)}, got {row['winner']!r}")
    judge = row.get("judge")
    rater = "/".join(map(str, judge)) if isinstance(judge, list) else None if judge is None else str(judge)
    if rater is None:
        state["implicit_raters"] = True
    label = _MTBENCH_WINNERS[row["winner"]]
    orientations: dict[tuple[str, int, frozenset[str]], str] = state.setdefault("orientations", {})
    first = orientations.setdefault((str(question), turn, frozenset((model_a, model_b))), model_a)  # first-seen orientation
    flipped = first != model_a
    ordered = (model_b, model_a) if flipped else (model_a, model_b)
    item = f"{question}:{ordered[0]}:{ordered[1]}:{turn}"
    instruction, answer_a, answer_b = _turn_texts(row, turn)
    if flipped:
        answer_a, answer_b, label = answer_b, answer_a, swapped(label)
    for separator in MTBENCH_SEPARATORS:
        state["aliases"][separator.join(map(str, (question, *ordered, turn)))] = (item, False)
        state["aliases"][separator.join(map(str, (question, *reversed(ordered), turn)))] = (item, True)
    return (
        {"item": item, "instruction": instruction, "output_1": answer_a, "output_2": answer_b},
        [{"item": item, "rater": rater, "label": label, "cost_usd": None, "seconds": None}],
    )


def _labels(row: dict[str, Any], _state: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if isinstance(row["item"], (dict, list, bool)) or row["item"] is None:
        raise BadRow("item must be a string or a number")
    if row["label"] is not None and row["label"] not in VERDICTS:
        raise BadRow(f"label must be A, B or tie, got {row['label']!r}")
    item = str(row["item"])
    return (
        {"item": item, "instruction": None, "output_1": None, "output_2": None},
        [{"item": item, "rater": str(row["rater"]), "label": row["label"], "cost_usd": None, "seconds": None}],
    )


_PARSERS = {"alpaca_eval": _alpaca, "pandalm": _pandalm, "mtbench": _mtbench, "labels": _labels}


def read_labelled_pairs(path: str | Path, fmt: str | None = None) -> LabelledPairs:
    """Read a file of labelled pairs in one of FORMATS (auto-detected from the first row unless `fmt`),
    row by row: the file's text is never held next to all its parsed rows."""
    file = Path(path)
    state: dict[str, Any] = {"aliases": {}}
    pairs: dict[str, dict[str, Any]] = {}
    labels: list[dict[str, Any]] = []
    with UserFile(file, "human labels file") as source:
        for number, row in enumerate(source.json_rows()):
            if number == 0:
                fmt = fmt or detect_format(row)
            if fmt not in _PARSERS:
                raise source.error(
                    f"unknown layout; expected one of {', '.join(FORMATS)} (see `evalkit judge-quality --help`), or pass --format"
                )
            if detect_format(row) != fmt:
                raise source.error(f"not a {fmt} row (needs the same fields as the first row)")
            try:
                pair, row_labels = _PARSERS[fmt](row, state)
            except BadRow as exc:
                raise source.error(str(exc)) from None
            known = pairs.setdefault(pair["item"], pair)
            if fmt != "labels" and (known["output_1"], known["output_2"]) != (pair["output_1"], pair["output_2"]):
                raise source.error(f"item {pair['item']} appears before with other answers")
            labels.extend(row_labels)
        if fmt is None or not labels:
            raise EvalkitError(f"{file}: no rows")
        source.line = None  # what follows is about the file as a whole
        frame = pd.DataFrame(labels, columns=LABEL_COLUMNS).astype({"cost_usd": float, "seconds": float})
    if frame["rater"].isna().any():  # no rater fields: the n-th label of an item is rater n, as alpaca_eval counts them
        frame["rater"] = frame["rater"].fillna(frame.groupby("item").cumcount().astype(str))
    explicit = fmt != "pandalm" and not state.get("implicit_raters", False)
    return LabelledPairs(
        str(file), fmt, pd.DataFrame(list(pairs.values()), columns=PAIR_COLUMNS), frame, explicit, state["aliases"]
    )
