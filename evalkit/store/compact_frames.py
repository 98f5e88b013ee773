"""A query's rows read into a compact pandas frame: for results with millions of rows.

The tallies' per-pair rows of a 5M-judgment store are ~3.3M rows whose keys are a handful of distinct
strings (judges). `fetchall()` into a frame of Python objects costs ~60 bytes per string cell and
holds every row as Python objects at once; here the rows are turned into Python objects a chunk at a
time, and each chunk's string columns become integer codes into a small table of distinct values
before the next chunk is converted. The result has pandas Categorical key columns (categories sorted,
so the codes follow the strings' order) and fixed-width numeric columns: ~50 bytes a row instead of ~500.

The driver still receives the whole result before the first chunk (a client-side cursor, in the
driver's C buffers). A server-side cursor
(`stream_results`) would bound that too, but PostgreSQL never runs a cursor's query in parallel: at
5M judgments the verdict tallies took 26.0 s streamed and 13.7 s read whole, with the same peak memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Select

from evalkit.store.store import Store

# How a column is kept: "category" for strings (NULL: a missing value), else a numpy dtype name. A
# column not named is float64 (NULL: NaN; PostgreSQL's SUM of integers, a Decimal, as a float).
ColumnKind = Literal["category", "int64", "int32", "float64"]
CHUNK_ROWS: Final = 50_000  # rows a chunk holds as Python objects: a few MB at a time


class _Encoder:
    """Integer codes for the distinct values of one string column, shared by every chunk."""

    def __init__(self) -> None:
        self.codes: dict[Any, int] = {}

    def encode(self, values: Sequence[Any]) -> np.ndarray:
        local, uniques = pd.factorize(np.asarray(values, dtype=object))  # None -> -1
        lookup = np.array([self.codes.setdefault(value, len(self.codes)) for value in uniques], dtype=np.int64)
        return np.where(local >= 0, lookup[np.maximum(local, 0)] if len(lookup) else 0, -1)

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        """The codes as a Categorical whose categories are sorted (first-seen order would make the
        codes depend on the order the database returned the rows in)."""
        values = list(self.codes)
        order = sorted(range(len(values)), key=values.__getitem__)
        rank = np.empty(len(values), dtype=np.int64)
        rank[order] = np.arange(len(values))
        sorted_codes = np.where(codes >= 0, rank[np.maximum(codes, 0)] if len(rank) else 0, -1)
        categories = pd.Index([values[i] for i in order])
        return pd.Categorical.from_codes(sorted_codes, categories=categories)


def _numbers(values: Sequence[Any], kind: str) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(kind) if values else np.empty(0, dtype=kind)


def compact_frame(store: Store, query: Select[Any], kinds: Mapping[str, ColumnKind]) -> pd.DataFrame:
    """The query's rows as a frame, columns kept as `kinds` says (integer columns must not be NULL)."""
    with store.engine.connect() as conn:
        result = conn.execute(query)
        names = list(result.keys())
        encoders = {name: _Encoder() for name in names if kinds.get(name) == "category"}
        parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
        while rows := result.fetchmany(CHUNK_ROWS):
            for name, values in zip(names, zip(*rows)):
                encoder = encoders.get(name)
                parts[name].append(encoder.encode(values) if encoder else _numbers(values, kinds.get(name, "float64")))
    columns: dict[str, Any] = {}
    for name in names:
        kind = kinds.get(name, "float64")
        joined = np.concatenate(parts[name]) if parts[name] else np.empty(0, dtype="int64" if kind == "category" else kind)
        encoder = encoders.get(name)
        columns[name] = encoder.categorical(joined) if encoder else joined
    return pd.DataFrame(columns)
