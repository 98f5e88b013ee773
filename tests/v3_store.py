"""A store as schema version 3 left it (annotation items without draw weights), and the check that
evalkit reads it without writing when read-only and upgrades it in place when a writer opens it: the
same on SQLite and PostgreSQL (tests/store/test_draw_weights.py, tests/store/test_store_postgres.py)."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, select, update

from bench.leaderboard_data import populate
from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store import schema as t

WEIGHTS = ("draw_probability", "draws")


def make_v3_store(url: str) -> None:
    """A store made by this evalkit with one pairwise batch "old" (four items, one label), then put back
    in version 3's shape: annotation_items without the draw weights."""
    store = Store(url)
    data = populate(store, runs=1, epochs=1, prompts=4, with_decisions=False)
    model, baseline = store.model_id(data.checkpoints[0]), store.model_id(data.baselines[0])
    batch, _ = ann.create_batch(store, "old", model, baseline, "bench", per_item=2)
    item = ann.next_item(store, batch, "ann")
    assert item is not None and ann.add_label(store, "ann", item.item_id, "A", source="invitation:1")
    store.engine.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        for column in WEIGHTS:
            conn.exec_driver_sql(f"ALTER TABLE annotation_items DROP COLUMN {column}")
        conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value="3"))
    engine.dispose()


def shape(url: str) -> tuple[str, bool]:
    """(schema version, whether annotation_items has both draw-weight columns), read with a plain engine."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).scalar_one()
            columns = {c["name"] for c in inspect(conn).get_columns("annotation_items")}
    finally:
        engine.dispose()
    return version, set(WEIGHTS) <= columns


def check_v3_store_is_read_then_upgraded(url: str) -> None:
    make_v3_store(url)
    assert shape(url) == ("3", False)
    reader = Store(url, read_only=True)
    batch = ann.batch_id(reader, "old")
    before = (ann.batches(reader), ann.labels(reader, batch), ann.next_item(reader, batch, "bob"))
    old_draws = ann.batch_draws(reader, batch)
    assert [(d.probability, d.draws) for d in old_draws] == [(None, 1)] * 4
    reader.engine.dispose()
    assert shape(url) == ("3", False)  # a reader never alters a store

    store = Store(url)
    assert shape(url) == (str(t.SCHEMA_VERSION), True)
    after = (ann.batches(store), ann.labels(store, batch), ann.next_item(store, batch, "bob"))
    assert before[0].equals(after[0]) and before[1].equals(after[1]) and before[2] == after[2]
    assert ann.batch_draws(store, batch) == old_draws
    # a drawn batch now stores its weights
    model, baseline = (store.model_id(str(before[0][column].iloc[0])) for column in ("model", "baseline"))
    hashes = [d.prompt_hash for d in old_draws]
    drawn = [ann.DrawnPrompt(hashes[2], 2, 0.4), ann.DrawnPrompt(hashes[0], 1, 0.1)]
    new, n_items = ann.create_batch(store, "drawn", model, baseline, "bench", per_item=1, drawn=drawn)
    assert n_items == 2
    assert [(d.prompt_hash, d.probability, d.draws) for d in ann.batch_draws(store, new)] == [
        (hashes[2], 0.4, 2),
        (hashes[0], 0.1, 1),
    ]
    store.engine.dispose()
    Store(url).engine.dispose()  # a current store opens as it is
    assert shape(url) == (str(t.SCHEMA_VERSION), True)
