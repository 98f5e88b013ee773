"""Writes the report folder: the page, its script and style (assets/, copied as they are) and the data
twice, as data.js (`window.EVALKIT_REPORT = {...};`, loaded by a <script> tag, since a page opened
from file:// may not fetch() a file beside it) and as data.json for programs. Each file is written
whole or not at all; data.json says the folder is a report (what `--force` is not needed to replace)."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.files.atomic_text import write_text_atomic
from evalkit.report.data import REPORT_FORMAT

ASSETS = ("report.js", "report.css", "index.html")  # index.html last: a report is complete once it is there
DATA_JSON = "data.json"
DATA_JS = "data.js"


def is_report_folder(folder: Path) -> bool:
    """A folder an earlier `evalkit report` wrote (its data.json says so)."""
    marker = folder / DATA_JSON
    if not marker.is_file():
        return False
    try:
        with marker.open(encoding="utf-8") as handle:
            return bool(json.load(handle).get("format") == REPORT_FORMAT)
    except (OSError, ValueError, AttributeError):
        return False


def check_out(folder: Path, force: bool) -> None:
    """Refuse, before any work, a target that is a file or a folder holding something other than an
    earlier report (unless `force`): a report never writes over files it did not write."""
    if folder.exists() and not folder.is_dir():
        raise EvalkitError(f"--out {folder} is a file, not a folder; pass a folder for the report")
    if folder.is_dir() and any(folder.iterdir()) and not is_report_folder(folder) and not force:
        raise EvalkitError(f"--out {folder} holds files that are not an evalkit report; pass an empty or new folder, or --force")


def _asset(name: str) -> str:
    return files("evalkit.report").joinpath("assets", name).read_text(encoding="utf-8")


def write(data: dict[str, Any], folder: Path) -> list[Path]:
    """The report's files in `folder` (created with its parents), in the order written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvalkitError(f"cannot create {folder}: {exc.strerror or exc}") from None
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    contents = {DATA_JSON: text, DATA_JS: f"window.EVALKIT_REPORT = {text};\n"}
    contents.update({name: _asset(name) for name in ASSETS})
    written = []
    for name, content in contents.items():
        write_text_atomic(folder / name, content)
        written.append(folder / name)
    return written
