"""`evalkit annotate export | import`: human labels as AlpacaEval cross-annotations (JSON) or as
evalkit's rater-label JSONL, and back (idempotent)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evalkit.commands.common import add_db_flag
from evalkit.errors import EvalkitError

FORMATS = ("alpaca_eval", "labels")


def register_actions(actions: argparse._SubParsersAction) -> None:
    export = actions.add_parser("export", help="write a batch's human labels (alpaca_eval JSON or labels JSONL)")
    export.add_argument("--batch", required=True, help="batch name")
    export.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    export.add_argument("--output", "-o", default=None, help="file to write (default: stdout)")
    add_db_flag(export)
    export.set_defaults(handler=run_export)

    imported = actions.add_parser("import", help="read labels of a batch back (labels already stored are skipped)")
    imported.add_argument("file", help="an exported file: JSON list (alpaca_eval) or JSONL (labels)")
    imported.add_argument("--batch", required=True, help="batch name the labels belong to")
    imported.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    add_db_flag(imported)
    imported.set_defaults(handler=run_import)


def _text(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "alpaca_eval":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _read(path: Path, fmt: str) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalkitError(f"labels file {path} not found") from None
    try:
        rows = json.loads(text) if fmt == "alpaca_eval" else [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise EvalkitError(f"{path} is not valid {'JSON' if fmt == 'alpaca_eval' else 'JSONL'} (line {exc.lineno})") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise EvalkitError(f"{path} must hold a list of objects (one per label)")
    return rows


def run_export(args: argparse.Namespace) -> int:
    from evalkit.settings import db_url
    from evalkit.store import Store
    from evalkit.store.label_exchange import export_labels

    text = _text(export_labels(Store(db_url(args.db), read_only=True), args.batch, args.fmt), args.fmt)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    partial = target.with_name(target.name + ".partial")  # nothing half-written under the real name
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    print(f"wrote {text.count(chr(10)) if args.fmt == 'labels' else len(json.loads(text))} labels to {target}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from evalkit.settings import db_url
    from evalkit.store import Store
    from evalkit.store.label_exchange import import_labels

    result = import_labels(Store(db_url(args.db)), args.batch, args.fmt, _read(Path(args.file), args.fmt))
    print(f"imported {result.added} labels into {args.batch!r}; {result.skipped} already there (or the item was full)")
    return 0
