"""Per-pair (or per-answer) tallies summed into per-prompt cells: (judge, generation set[, baseline
generation set], prompt of the model's answer).

The database applies the reading rules and reduces the judgments to one row per pair (or per answer
and sample) keyed by generation ids. Grouping those rows by generation set and prompt in SQL needs two
joins to the generations and a sort on string keys (decoding and prompt hashes): at 5M judgments that
sort spilled to disk and took most of the query's time. Here the generations are read once, as integer
codes, and each row finds its answer's model, decoding, prompt and length by an index lookup, as
evalkit.results.reading does for the rows themselves; the cells are then one pandas groupby over
integer and categorical keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from evalkit.core.records import JUDGE_COLUMNS
from evalkit.store import schema as t
from evalkit.store.compact_frames import compact_frame
from evalkit.store.result_reads import among
from evalkit.store.store import Store

PROMPT = "prompt_hash"


def answer_catalog(store: Store, answers: Sequence[int] | None = None) -> pd.DataFrame:
    """Generations (all, or these ids) indexed by id: model_id, decoding and prompt hash (categories) and
    the text's length in characters. Rows whose answer is not here are left out, as a join would."""
    g = t.generations
    query = select(
        g.c.id,
        g.c.model_id,
        g.c.decoding_hash.label("decoding"),
        g.c.prompt_hash.label(PROMPT),
        func.length(g.c.text).label("length"),
    )
    if answers is not None:
        query = query.where(among(g.c.id, answers))
    kinds: dict[str, Any] = {"id": "int64", "model_id": "int64", "decoding": "category", PROMPT: "category"}
    return compact_frame(store, query, kinds).set_index("id")


def _taken(column: pd.Series, rows: np.ndarray) -> pd.Series | np.ndarray:
    """column's values at positional `rows`, categories kept."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()[rows]
        return pd.Categorical.from_codes(codes, categories=column.cat.categories)
    return column.to_numpy()[rows]


def cells(
    rows: pd.DataFrame,
    catalog: pd.DataFrame,
    values: Mapping[str, np.ndarray],
    paired: bool,
    lengths: bool,
) -> pd.DataFrame:
    """Sums of `values` (one array per row of `rows`) per (judge, model's generation set, [baseline's,]
    prompt). `rows` holds the judge columns (categories), `generation_a` and, when `paired`,
    `generation_b`. With `lengths`, also `sum_model_len` (the model's answers' characters) and `n_rows`."""
    side_a = catalog.index.get_indexer(rows["generation_a"].to_numpy())
    known = side_a >= 0
    side_b = np.zeros(len(rows), dtype=np.int64)
    if paired:
        side_b = catalog.index.get_indexer(rows["generation_b"].to_numpy())
        known &= side_b >= 0
    kept = np.flatnonzero(known)
    a, b = side_a[kept], side_b[kept]
    keys: dict[str, Any] = {name: _taken(rows[name], kept) for name in JUDGE_COLUMNS}
    keys["model_id"] = catalog["model_id"].to_numpy()[a]
    keys["decoding"] = _taken(catalog["decoding"], a)
    if paired:
        keys["baseline_id"] = catalog["model_id"].to_numpy()[b]
        keys["baseline_decoding"] = _taken(catalog["decoding"], b)
    keys[PROMPT] = _taken(catalog[PROMPT], a)
    summed = {name: np.asarray(column)[kept] for name, column in values.items()}
    if lengths:
        summed["sum_model_len"] = catalog["length"].to_numpy(dtype=np.float64)[a]
        summed["n_rows"] = np.ones(len(kept), dtype=np.int64)
    frame = pd.DataFrame({**keys, **summed})
    key_names = list(keys)
    if frame.empty:
        return frame
    grouped = frame.groupby(key_names, observed=True, sort=False, dropna=False).sum(min_count=0)
    return grouped.reset_index()
