"""Reading a labels file for `evalkit annotate import`: a JSON list (alpaca_eval) or JSONL (labels),
each row with its place in the file, through the one user-file layer (evalkit/files/userfile.py), so its
errors read like every other reader's (`FILE:LINE: problem`) and no file can crash it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalkit.files.userfile import UserFile
from evalkit.store.label_exchange import LabelFile


def read_label_file(path: Path, fmt: str) -> LabelFile:
    rows: list[dict[str, Any]] = []
    places: list[str] = []
    with UserFile(path, "labels file") as file:
        listed = fmt == "alpaca_eval"
        for number, row in enumerate(file.json_list() if listed else file.json_lines(), start=1):
            if not isinstance(row, dict):
                raise file.error("not a JSON object (one label per row)")
            rows.append(row)
            # a JSON list is often one line: its row number is what finds the label there
            places.append(f"{file.line}, row {number}" if listed else f"{file.line}")
    return LabelFile(str(path), rows, places)
