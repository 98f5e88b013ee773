"""`evalkit annotate export | import`: human labels as AlpacaEval cross-annotations (JSON) or as
evalkit's rater-label JSONL, and back (idempotent, all or nothing, each label recording the file it
came from; see evalkit/store/label_exchange.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evalkit.cli.commands.common import add_db_flag, out_path
from evalkit.files.atomic_text import write_text_atomic

FORMATS = ("alpaca_eval", "labels")


def register_actions(actions: argparse._SubParsersAction) -> None:
    export = actions.add_parser("export", help="write a batch's human labels (alpaca_eval JSON or labels JSONL)")
    export.add_argument("--batch", required=True, help="batch name")
    export.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    export.add_argument("--output", "-o", type=out_path, default=None, help="file to write (default: stdout)")
    add_db_flag(export)
    export.set_defaults(handler=run_export)

    imported = actions.add_parser("import", help="read labels of a batch back (labels already stored are skipped)")
    imported.add_argument("file", help="an exported file: JSON list (alpaca_eval) or JSONL (labels)")
    imported.add_argument("--batch", required=True, help="batch name the labels belong to")
    imported.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
    imported.add_argument(
        "--as-annotator",
        default=None,
        metavar="NAME",
        help="store every row under NAME (the file must hold one rater's labels); needed when a rater in "
        "the file is an invited annotator, whose labels otherwise come only through their link",
    )
    add_db_flag(imported)
    imported.set_defaults(handler=run_import)


def _text(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "alpaca_eval":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def run_export(args: argparse.Namespace) -> int:
    from evalkit.core.settings import db_url
    from evalkit.store import Store
    from evalkit.store.label_exchange import export_labels

    text = _text(export_labels(Store(db_url(args.db), read_only=True), args.batch, args.fmt), args.fmt)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    write_text_atomic(target, text)  # whole or not at all: no partial file, even on a full disk
    print(f"wrote {text.count(chr(10)) if args.fmt == 'labels' else len(json.loads(text))} labels to {target}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._labelfile import read_label_file
    from evalkit.core.settings import db_url
    from evalkit.store import Store
    from evalkit.store.label_exchange import import_labels

    labels = read_label_file(Path(args.file), args.fmt)  # the whole file is read and parsed before the store opens
    result = import_labels(Store(db_url(args.db)), args.batch, args.fmt, labels, as_annotator=args.as_annotator)
    print(
        f"imported {result.added} labels into {args.batch!r} (source {labels.source!r}); "
        f"{result.skipped} already there (or the item was full)"
    )
    return 0
