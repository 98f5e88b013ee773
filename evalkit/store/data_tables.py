"""Reads and writes of the data-recipe tables (schema: data_generations, sweeps, sweep_cells), each
write its own short transaction so a killed run keeps every finished call and cell.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select, update

from evalkit.store import schema as t
from evalkit.store.store import Store


def cached_generations(store: Store, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Stored replies by cache key (queried in chunks: SQLite limits bound parameters)."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for row in conn.execute(select(t.data_generations).where(t.data_generations.c.cache_key.in_(chunk))).mappings():
                found[row["cache_key"]] = dict(row)
    return found


def add_generation(store: Store, row: dict[str, Any]) -> None:
    with store.engine.begin() as conn:
        store._insert_ignore(conn, t.data_generations, [row])


def save_sweep(store: Store, sweep_key: str, name: str, definition: dict[str, Any]) -> None:
    with store.engine.begin() as conn:
        store._insert_ignore(conn, t.sweeps, [{"sweep_key": sweep_key, "name": name, "definition": definition}])


def save_cell(store: Store, sweep_key: str, cell: dict[str, Any]) -> None:
    """Replace the cell's row: a re-run's numbers come from the same cached judgments, so they are equal."""
    with store.engine.begin() as conn:
        conn.execute(
            delete(t.sweep_cells).where((t.sweep_cells.c.sweep_key == sweep_key) & (t.sweep_cells.c.cell_key == cell["cell_key"]))
        )
        conn.execute(t.sweep_cells.insert(), [{"sweep_key": sweep_key, **cell}])


def save_best(store: Store, sweep_key: str, best: dict[str, Any]) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(t.sweeps).where(t.sweeps.c.sweep_key == sweep_key).values(best=best, updated_at=func.now()))


def sweeps_frame(store: Store) -> pd.DataFrame:
    return store.frame(select(t.sweeps).order_by(t.sweeps.c.created_at))


def cells_frame(store: Store, sweep_key: str | None = None) -> pd.DataFrame:
    query = select(t.sweep_cells)
    if sweep_key is not None:
        query = query.where(t.sweep_cells.c.sweep_key == sweep_key)
    return store.frame(query)
