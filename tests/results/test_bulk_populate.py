"""bench/leaderboard_data.py's bulk path (PostgreSQL COPY, used for the 10x stores) writes what the
Store's methods write: the same judgments, read back as the same tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text

from bench.leaderboard_data import populate
from evalkit.results.tables import read_tables
from evalkit.store import Store


def test_bulk_populate_writes_what_the_store_methods_write(pg_url: str, tmp_path: Path) -> None:
    """bench/leaderboard_data.py's COPY path (used at 10x) gives the same tables as the Store's methods."""
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE bulk_copy"))
    admin.dispose()
    bulk = Store(pg_url.rsplit("/", 1)[0] + "/bulk_copy")
    plain = Store(f"sqlite:///{tmp_path / 'plain.db'}")
    for store, use_copy in ((bulk, True), (plain, False)):
        populate(store, runs=1, epochs=2, prompts=8, with_decisions=False, bulk=use_copy)
    copied, written = read_tables(bulk, instructions=False), read_tables(plain, instructions=False)
    for name in ("pairwise", "alpaca", "single"):
        pd.testing.assert_frame_equal(getattr(copied, name), getattr(written, name))
