"""Stores as schema versions 1 and 2 left them (the annotation tables of evalkit.store.schema_v2: pairwise
labels and absolute ratings in two table families; version 1's labels without a source), and the checks
that evalkit reads them without writing when read-only, and upgrades them in place once when a writer
opens them: the same on SQLite and PostgreSQL (tests/store/test_annotations.py, tests/store/test_store_postgres.py)."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, Table, create_engine, insert, inspect, select, update

from bench.leaderboard_data import populate
from evalkit.cli.main import main as cli_main
from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store import invitations as inv
from evalkit.store import ratings as rt
from evalkit.store import schema as t
from evalkit.store import schema_v2 as v2

OLD_TABLES = tuple(table.name for table in v2.TABLES)


def _insert(conn: Connection, table: Table, **values: Any) -> int:
    return int(conn.execute(insert(table).values(**values)).inserted_primary_key[0])  # type: ignore[index]


def make_old_store(url: str, version: int, more: bool = False) -> None:
    """An old store, built with this evalkit and its annotation tables then replaced by version 2's:
    pairwise batch "old" (two items, two labels of its first) and absolute batch "old-rated" (one item,
    one rating). `more`: also pairwise "old-2" and absolute "rated-2" (two models), made in between so
    that both families' ids interleave, with labels of every source. Version 1: no label sources."""
    store = Store(url)
    data = populate(store, runs=1, epochs=1, prompts=4, with_decisions=False)
    model, baseline = store.model_id(data.checkpoints[0]), store.model_id(data.baselines[0])
    ours, theirs = data.generation_ids[data.checkpoints[0]], data.generation_ids[data.baselines[0]]
    hashes = [p.hash for p in store.load_prompt_set("bench").prompts]
    store.engine.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in (t.human_labels, t.annotation_items, t.annotation_batches):
            table.drop(conn)
        v2.metadata.create_all(conn)

        def pairwise(name: str, prompts: list[str]) -> list[int]:
            batch = _insert(
                conn, v2.annotation_batches, name=name, model_id=model, baseline_id=baseline, prompt_set="bench", per_item=2
            )
            return [
                _insert(
                    conn,
                    v2.annotation_items,
                    batch_id=batch,
                    position=n,
                    prompt_hash=h,
                    generation_a=ours[h],
                    generation_b=theirs[h],
                    order=("AB", "BA")[n % 2],
                )
                for n, h in enumerate(prompts)
            ]

        def absolute(name: str, answers: list[tuple[int, str, int]]) -> list[int]:
            batch = _insert(conn, v2.rating_batches, name=name, prompt_set="bench", per_item=2)
            return [
                _insert(conn, v2.rating_items, batch_id=batch, position=n, prompt_hash=h, model_id=m, generation_id=g)
                for n, (m, h, g) in enumerate(answers)
            ]

        def label(table: Table, annotator: str, item: int, value: str, source: str | None) -> None:
            _insert(conn, table, annotator=annotator, item_id=item, label=value, source=source)

        items = pairwise("old", hashes[:2])
        for annotator in ("ann", "bob"):
            label(v2.human_labels, annotator, items[0], "A", None)
        rated = absolute("old-rated", [(model, hashes[0], ours[hashes[0]])])
        label(v2.rating_labels, "ann", rated[0], "pass", None)
        if more:
            rated_2 = absolute("rated-2", [(model, hashes[1], ours[hashes[1]]), (baseline, hashes[1], theirs[hashes[1]])])
            items_2 = pairwise("old-2", hashes[1:4])
            label(v2.rating_labels, "ann", rated_2[1], "excellent", "invitation:2")
            label(v2.human_labels, "cat", items_2[2], "tie", "import:labels.jsonl")
            label(v2.rating_labels, "bob", rated_2[1], "fail", "import:labels.jsonl")
            label(v2.human_labels, "ann", items[1], "B", "invitation:1")
            label(v2.rating_labels, "bob", rated[0], "excellent", "invitation:3")
        if version == 1:
            for table in v2.LABEL_TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table.name} DROP COLUMN source")
        conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value=str(version)))
    engine.dispose()


def shape(url: str) -> tuple[str, bool]:
    """(schema version, whether every label table has its source column), read with a plain engine."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "schema_version")).scalar_one()
            present = set(inspect(conn).get_table_names())
            tables = [table.name for table in v2.LABEL_TABLES] if present & {"rating_labels"} else [t.human_labels.name]
            columns = [{c["name"] for c in inspect(conn).get_columns(table)} for table in tables]
    finally:
        engine.dispose()
    return version, all("source" in names for names in columns)


def old_tables_left(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names()) & {"rating_batches", "rating_items", "rating_labels"}
    finally:
        engine.dispose()


def check_v1_store_is_read_then_upgraded(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    make_old_store(url, version=1)
    batch = 1  # the first pairwise batch keeps its id
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
    i = t.annotation_items
    item = int(store.frame(select(i.c.id).where(i.c.batch_id == batch, i.c.position == 1))["id"].iloc[0])
    assert ann.add_label(store, "cat", item, "B", source="invitation:7")
    assert ann.labels(store, batch)["source"].tolist()[-1] == "invitation:7"
    for writer in writers:
        writer.engine.dispose()
    Store(url).engine.dispose()  # a current store opens as it is
    assert shape(url) == (str(t.SCHEMA_VERSION), True)


def _everything(store: Store) -> dict[str, Any]:
    """What the annotation reads of a store show, keyed by batch name (ids are compared through it)."""
    pairwise, absolute = ann.batches(store), rt.rating_batches(store)
    shown: dict[str, Any] = {
        "pairwise": pairwise,
        "absolute": absolute,
        "labels": ann.labels(store),
        "ratings": rt.ratings(store),
    }
    for name, batch in zip(absolute["name"], absolute["id"]):
        shown[f"items {name}"] = rt.rating_items(store, int(batch))
        shown[f"next {name}"] = rt.next_rating_item(store, int(batch), "dan")
        shown[f"progress {name}"] = [rt.rating_progress(store, int(batch), who) for who in ("ann", "bob", "dan")]
    for name, batch in zip(pairwise["name"], pairwise["id"]):
        shown[f"next {name}"] = ann.next_item(store, int(batch), "dan")
        shown[f"progress {name}"] = [ann.progress(store, int(batch), who) for who in ("ann", "bob", "dan")]
    return shown


def _same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(value, after[key], obj=key)
        else:
            assert value == after[key], key


def check_v2_store_is_read_then_upgraded(url: str) -> None:
    """A version-2 store with ratings and pairwise labels of interleaved ids, and invitations to each
    batch: read-only, it reads as it is; a writer upgrades it to one table family with every row, id
    link and invitation intact, and what every read shows is the same before and after."""
    make_old_store(url, version=2, more=True)
    now = dt.datetime.now(dt.timezone.utc)
    engine = create_engine(url)
    with engine.begin() as conn:
        for name in ("old", "old-rated", "rated-2", "old-2"):
            conn.execute(
                insert(t.annotation_invitations).values(
                    token_hash=inv.token_hash(f"token-{name}"),
                    batch_name=name,
                    annotator="dan",
                    created_at=now,
                    expires_at=now + dt.timedelta(days=1),
                )
            )
        stored = {
            table.name: {tuple(row[1:]) for row in conn.execute(select(table))} for table in (v2.human_labels, v2.rating_labels)
        }
    engine.dispose()
    reader = Store(url, read_only=True)
    before = _everything(reader)
    opened_before = {name: inv.check(reader, f"token-{name}") for name in ("old", "old-rated", "rated-2", "old-2")}
    reader.engine.dispose()
    assert shape(url) == ("2", True) and old_tables_left(url) == {"rating_batches", "rating_items", "rating_labels"}
    assert len(before["labels"]) == 4 and len(before["ratings"]) == 4
    assert list(before["absolute"]["n_labels"]) == [2, 2] and list(before["pairwise"]["n_items"]) == [2, 3]

    store = Store(url)
    assert shape(url) == (str(t.SCHEMA_VERSION), True) and old_tables_left(url) == set()
    _same(before, _everything(store))
    # every label row is there, with its annotator, value, source and time, under the item it labelled
    moved = store.frame(select(t.human_labels))
    assert len(moved) == sum(len(rows) for rows in stored.values()) == 8
    labels = ann.labels(store).merge(ann.batches(store)[["id", "name"]], left_on="batch_id", right_on="id")
    ratings = rt.ratings(store).merge(rt.rating_batches(store)[["id", "name"]], left_on="batch_id", right_on="id")
    assert sorted(zip(labels["name"], labels["annotator"], labels["label"], labels["source"].fillna("-"))) == [
        ("old", "ann", "A", "-"),
        ("old", "ann", "B", "invitation:1"),
        ("old", "bob", "A", "-"),
        ("old-2", "cat", "tie", "import:labels.jsonl"),
    ]
    assert sorted(zip(ratings["name"], ratings["annotator"], ratings["label"], ratings["source"].fillna("-"))) == [
        ("old-rated", "ann", "pass", "-"),
        ("old-rated", "bob", "excellent", "invitation:3"),
        ("rated-2", "ann", "excellent", "invitation:2"),
        ("rated-2", "bob", "fail", "import:labels.jsonl"),
    ]
    by_answer = rt.rating_items(store, int(ratings.loc[ratings["name"] == "rated-2", "batch_id"].iloc[0]))
    assert set(ratings.loc[ratings["name"] == "rated-2", "generation_id"]) == {int(by_answer["generation_id"].iloc[1])}
    assert moved["id"].is_unique and set(moved["item_id"]) <= set(store.frame(select(t.annotation_items.c.id))["id"])
    # invitations open the same batch, of the right kind, and label it
    for name, old in opened_before.items():
        opened = inv.check(store, f"token-{name}")
        assert old is not None and opened is not None
        assert (opened.batch_name, opened.kind, opened.batch_id) == (name, old.kind, old.batch_id)
        assert opened.kind == ("absolute" if "rated" in name else "pairwise")
    rated_2 = inv.check(store, "token-rated-2")
    assert rated_2 is not None and set(rt.ratings(store, rated_2.batch_id)["label"]) == {"excellent", "fail"}
    # new rows get new ids (PostgreSQL's sequences go on after the moved rows)
    item = rt.next_rating_item(store, rated_2.batch_id, "dan")
    assert item is not None and rt.add_rating(store, "dan", item.item_id, "pass", rated_2.batch_id, source="invitation:9")
    model = store.model_id(str(before["pairwise"]["model"].iloc[0]))
    baseline = store.model_id(str(before["pairwise"]["baseline"].iloc[0]))
    batch, _ = ann.create_batch(store, "new", model, baseline, "bench", per_item=1)
    assert batch > max(before["absolute"]["id"].max(), before["pairwise"]["id"].max())
    new_item = ann.next_item(store, batch, "dan")
    assert new_item is not None and ann.add_label(store, "dan", new_item.item_id, "A", source="invitation:10")
    assert len(store.frame(select(t.human_labels))) == 10
    store.engine.dispose()
    Store(url).engine.dispose()  # a current store opens as it is
