"""A store as schema version 1 left it (labels without a source), and the checks that evalkit reads
it without writing when read-only, and upgrades it in place once when a writer opens it: the same on
SQLite and PostgreSQL (tests/test_annotations.py, tests/test_store_postgres.py)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, inspect, select, update

from bench.leaderboard_data import populate
from evalkit.cli import main as cli_main
from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store import ratings as rt
from evalkit.store import schema as t

LABEL_TABLES = ("human_labels", "rating_labels")


def make_v1_store(url: str) -> int:
    """A store with two labels and one rating given before provenance existed; returns the batch id.
    Built with this evalkit, then its label sources dropped and its version set back to 1: exactly
    version 1's shape, since version 2 only added those two columns."""
    store = Store(url)
    data = populate(store, runs=1, epochs=1, prompts=4, with_decisions=False)
    model, baseline = store.model_id(data.checkpoints[0]), store.model_id(data.baselines[0])
    batch, _ = ann.create_batch(store, "old", model, baseline, "bench", per_item=2, limit=2)
    rated, _ = rt.create_rating_batch(store, "old-rated", [model], "bench", per_item=1, limit=1)
    for annotator in ("ann", "bob"):
        assert ann.add_label(store, annotator, ann.next_item(store, batch, "ann").item_id, "A", source="dropped below")
    assert rt.add_rating(store, "ann", rt.next_rating_item(store, rated, "ann").item_id, "pass", source="dropped below")
    store.engine.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in LABEL_TABLES:
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN source")
        conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value="1"))
    engine.dispose()
    return batch


def shape(url: str) -> tuple[str, bool]:
    """(schema version, whether every label table has its source column), read with a plain engine."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).scalar_one()
            columns = [{c["name"] for c in inspect(conn).get_columns(table)} for table in LABEL_TABLES]
    finally:
        engine.dispose()
    return version, all("source" in names for names in columns)


def check_v1_store_is_read_then_upgraded(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    batch = make_v1_store(url)
    assert shape(url) == ("1", False)
    # read-only (stats, status, the Agreement page's reads): read as it is, nothing written
    reader = Store(url, read_only=True)
    assert not reader.has_label_sources
    old = ann.labels(reader, batch)
    assert list(old["annotator"]) == ["ann", "bob"] and old["source"].isna().all()
    assert cli_main(["annotate", "status", "--db", url, "--json"]) == 0
    status = {b["name"]: b for b in json.loads(capsys.readouterr().out)}
    assert status["old"]["annotators"][0]["sources"] == [{"source": None, "labels": 1}]
    assert status["old-rated"]["annotators"][0]["sources"] == [{"source": None, "labels": 1}]
    reader.engine.dispose()
    assert shape(url) == ("1", False)
    # writers: two open it at once; it is upgraded once, in place, and old labels keep a NULL source
    with ThreadPoolExecutor(2) as pool:
        writers = list(pool.map(lambda _: Store(url), range(2)))
    assert shape(url) == (str(t.SCHEMA_VERSION), True)
    store = writers[0]
    assert list(ann.labels(store, batch)["source"].isna()) == [True, True]
    assert rt.ratings(store)["source"].isna().all()
    item = int(store.frame(select(t.annotation_items.c.id).where(t.annotation_items.c.position == 1))["id"].iloc[0])
    assert ann.add_label(store, "cat", item, "B", source="invitation:7")
    assert ann.labels(store, batch)["source"].tolist()[-1] == "invitation:7"
    for writer in writers:
        writer.engine.dispose()
    Store(url).engine.dispose()  # a current store opens as it is
    assert shape(url) == (str(t.SCHEMA_VERSION), True)
