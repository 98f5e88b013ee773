"""The inputs of the statistics jobs (`evalkit stats`, `evalkit agreement`): users' annotation and label
files read row by row (one clear error naming the file and line), and the store's judge tables."""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.core.vocabulary import VERDICTS
from evalkit.files.userfile import UserFile
from evalkit.jobs.dropped_rows import report_dropped_preferences


def read_records(path: str, what: str) -> list[dict[str, Any]]:
    """Rows of a JSON list or a JSONL file, read one at a time; one clear error naming the file (and
    line) otherwise."""
    rows: list[dict[str, Any]] = []
    with UserFile(path, f"{what} file") as file:
        for row in file.json_rows():
            if not isinstance(row, dict):
                raise file.error(f"expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def read_annotations(path: str) -> pd.DataFrame:
    """An AlpacaEval annotations.json (each row needs `preference`)."""
    rows = read_records(path, "annotations")
    if not rows:
        raise EvalkitError(f"annotations file {path} is empty")
    missing = [i for i, row in enumerate(rows) if "preference" not in row]
    if missing:
        raise EvalkitError(f"annotations file {path}: row {missing[0]} has no 'preference' (AlpacaEval format needed)")
    with UserFile(path, "annotations file"):  # columns of mixed or odd values are refused in one line too
        frame = pd.DataFrame(rows)
        del rows  # the frame holds the same values: the rows' dicts need not outlive it
        report_dropped_preferences(frame["preference"], path)
    return frame


def read_labels(path: str) -> pd.DataFrame:
    """Rater labels: rows {"item", "rater", "label": "A" | "B" | "tie"}, kept as three columns while read."""
    columns: dict[str, list[Any]] = {"item": [], "rater": [], "label": []}
    with UserFile(path, "labels file") as file:
        for row in file.json_rows():
            if not isinstance(row, dict):
                raise file.error(f"expected a JSON object, got {type(row).__name__}")
            missing = {"item", "rater", "label"} - set(row)
            if missing:
                raise file.error(f"missing {', '.join(sorted(missing))}")
            if row["label"] not in VERDICTS:
                raise file.error(f"label must be A, B or tie, got {row['label']!r}")
            if isinstance(row["item"], (dict, list)):
                raise file.error("item must be a string or a number")
            for key, values in columns.items():
                values.append(str(row[key]) if key == "rater" else row[key])
    if not columns["label"]:
        raise EvalkitError(f'labels file {path} has no labels; expected JSONL rows {{"item", "rater", "label"}}')
    return pd.DataFrame(columns)


def store_tables(db: str | None) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    """(store, comparison rows, single-answer rows) of every judge in the store: verdict and
    preference judges together (both carry AlpacaEval preferences), grades apart."""
    from evalkit.core.settings import db_url
    from evalkit.results.tables import read_tables
    from evalkit.store import Store

    store = Store(db_url(db), read_only=True)
    tables = read_tables(store)
    return store, tables.comparisons, tables.single


def as_players(table: pd.DataFrame) -> pd.DataFrame:
    """Model identity for rankings and head-to-head tests: a generation set (model + decoding). The
    id becomes "ID:DECODING"; the name gains "[decoding]" only for a model with several decodings,
    so two decodings of one model are two players, never one mixed one."""
    if table.empty:
        return table
    sides = [("model", "model_id", "decoding"), ("baseline", "baseline_id", "baseline_decoding")]
    sides = [side for side in sides if set(side) <= set(table.columns)]
    if not sides:
        return table
    pairs = pd.concat([table[[ident, decoding]].set_axis(["id", "decoding"], axis=1) for _, ident, decoding in sides])
    several = set(pairs.drop_duplicates().groupby("id").size().loc[lambda n: n > 1].index)
    out = table.copy()
    for name, ident, decoding in sides:
        short = out[decoding].astype(str).str[:8]
        out[name] = [f"{n} [{d}]" if i in several else n for n, i, d in zip(out[name], out[ident], short)]
        out[ident] = out[ident].astype(str) + ":" + short
    return out


def stats_error(exc: ValueError) -> EvalkitError:
    """A statistics function refusing its input, as the CLI's one-line error."""
    return EvalkitError(str(exc))
