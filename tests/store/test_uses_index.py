"""Judgment uses indexed by answer (schema version 5): a version 4 store, which lacks the index, is read
as it is (same rows, nothing written) and gains the index when a writer opens it; the filtered read
the leaderboard's pages use gives the full read's rows of those answers."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import create_engine, inspect, select, update

from bench.leaderboard_data import populate
from evalkit.results.reading import read_judged
from evalkit.store import Store
from evalkit.store import schema as t
from evalkit.store.result_reads import generation_ids_of

INDEX = "ix_judgment_uses_generation_a"


def _shape(url: str) -> tuple[str, bool]:
    """(schema version, whether judgment_uses has the answer index), read with a plain engine."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).scalar_one()
            indexed = INDEX in {index["name"] for index in inspect(conn).get_indexes("judgment_uses")}
    finally:
        engine.dispose()
    return version, indexed


def test_a_version_4_store_is_read_as_it_is_and_indexed_by_a_writer(db_url: str) -> None:
    store = Store(db_url)
    data = populate(store, runs=1, epochs=2, prompts=5, with_decisions=False)
    model = store.model_id(data.checkpoints[0])
    expected = read_judged(store).rows
    store.engine.dispose()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX {INDEX}")
        conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value="4"))
    engine.dispose()
    assert _shape(db_url) == ("4", False)

    reader = Store(db_url, read_only=True)
    pd.testing.assert_frame_equal(read_judged(reader).rows, expected)
    answers = generation_ids_of(reader, [model, store.model_id(data.baselines[0])])
    between = read_judged(reader, generation_ids=answers).rows
    assert len(between) and set(between["model_id"]) <= {model, store.model_id(data.baselines[0])}
    reader.engine.dispose()
    assert _shape(db_url) == ("4", False)  # a reader never alters a store

    Store(db_url).engine.dispose()
    assert _shape(db_url) == (str(t.SCHEMA_VERSION), True)
    upgraded = Store(db_url, read_only=True)
    pd.testing.assert_frame_equal(read_judged(upgraded).rows, expected)
    pd.testing.assert_frame_equal(read_judged(upgraded, generation_ids=answers).rows, between)
