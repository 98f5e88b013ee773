"""Counts and lengths of dialog sets, LIMA Table 1 style (examples, average input and output length per
source), and the tag distribution.

Lengths are in words (whitespace-split) unless a tokenizer is given; LIMA counted tokens. Input is the
user turns of a dialog, output its assistant turns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.datarecipes.rows import Row, source_of
from evalkit.datarecipes.sampling import tag_counts


def word_length(text: str) -> int:
    return len(text.split())


def tokenizer_length(model_dir: str | Path) -> Callable[[str], int]:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    except (OSError, ValueError) as exc:
        raise EvalkitError(f"{model_dir}: cannot load a tokenizer ({exc.__class__.__name__}); pass a model directory") from None
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def table_one(files: dict[str, list[Row]], length: Callable[[str], int] = word_length) -> pd.DataFrame:
    """One row per source: #examples, avg input length, avg output length (LIMA Table 1's columns)."""
    records = []
    for name, rows in files.items():
        for row in rows:
            records.append(
                {
                    "source": source_of(row, name),
                    "input": sum(length(m["content"]) for m in row.messages if m["role"] == "user"),
                    "output": sum(length(m["content"]) for m in row.messages if m["role"] == "assistant"),
                }
            )
    frame = pd.DataFrame.from_records(records, columns=["source", "input", "output"])
    grouped = (
        frame.groupby("source", sort=False)
        .agg(examples=("input", "size"), avg_input_len=("input", "mean"), avg_output_len=("output", "mean"))
        .reset_index()
    )
    total = pd.DataFrame(
        [
            {
                "source": "total",
                "examples": len(frame),
                "avg_input_len": frame["input"].mean(),
                "avg_output_len": frame["output"].mean(),
            }
        ]
    )
    return pd.concat([grouped, total], ignore_index=True)


def tag_distribution(rows: list[Row]) -> pd.DataFrame:
    """Rows per tag, most frequent first, with its share of the rows."""
    counts = tag_counts(rows)
    frame = pd.DataFrame(sorted(counts.items(), key=lambda item: (-item[1], item[0])), columns=["tag", "rows"])
    frame["share"] = frame["rows"] / max(len(rows), 1)
    return frame
