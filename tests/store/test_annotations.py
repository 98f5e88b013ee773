"""Human annotation storage and `evalkit annotate`: blind random order, K labels per item, no edits."""

from __future__ import annotations

import json

import pytest

from bench.leaderboard_data import populate
from evalkit.cli.main import main as cli_main
from evalkit.core.errors import EvalkitError
from evalkit.store import Store
from evalkit.store import annotations as ann
from tests.v1_store import check_v1_store_is_read_then_upgraded, check_v2_store_is_read_then_upgraded


@pytest.fixture()
def populated(store: Store):
    return store, populate(store, runs=1, epochs=2, prompts=30, with_decisions=False)


def _make(store: Store, populated_data, per_item: int = 2, name: str = "b1", limit: int | None = None) -> int:
    model, baseline = populated_data.checkpoints[-1], populated_data.baselines[0]
    batch, n_items = ann.create_batch(
        store, name, store.model_id(model), store.model_id(baseline), "bench", per_item, limit=limit
    )
    assert n_items == (limit or 30)
    return batch


def test_items_pair_the_two_models_in_a_seeded_random_order(populated) -> None:
    store, data = populated
    batch = _make(store, data)
    items = store.frame(ann.t.annotation_items.select().where(ann.t.annotation_items.c.batch_id == batch))
    model_gens = set(data.generation_ids[data.checkpoints[-1]].values())
    baseline_gens = set(data.generation_ids[data.baselines[0]].values())
    assert items["generation_a"].isin(model_gens).all() and items["generation_b"].isin(baseline_gens).all()
    assert 5 < (items["order"] == "AB").sum() < 25  # both orders occur (seeded coin flips)
    texts = store.generations().set_index("id")["text"]
    first = items.sort_values("position").iloc[0]
    shown = ann.next_item(store, batch, "viewer")  # the annotator sees the answers in the item's order
    expected = (texts[first.generation_a], texts[first.generation_b])
    assert (shown.answer_a, shown.answer_b) == (expected if first.order == "AB" else expected[::-1])
    again = _make(store, data, name="b2")
    items2 = store.frame(ann.t.annotation_items.select().where(ann.t.annotation_items.c.batch_id == again))
    assert list(items2["order"]) != list(items["order"])  # the seed comes from the batch name


def test_k_annotators_per_item_and_nobody_gets_an_item_twice(populated) -> None:
    store, data = populated
    batch = _make(store, data, per_item=2, name="k2", limit=3)
    seen: dict[str, list[int]] = {}
    for annotator in ("alice", "bob", "carol"):
        while (item := ann.next_item(store, batch, annotator)) is not None:
            assert item.instruction.startswith("Question") and item.answer_a and item.answer_b
            assert ann.add_label(store, annotator, item.item_id, "A", source="test")
            seen.setdefault(annotator, []).append(item.item_id)
    assert len(seen["alice"]) == len(seen["bob"]) == 3 and "carol" not in seen  # 3 items x K=2 labels
    assert len(set(seen["alice"])) == 3
    assert ann.progress(store, batch, "alice") == (3, 0)
    assert ann.progress(store, batch, "carol") == (0, 0)
    labels = ann.labels(store, batch)
    assert len(labels) == 6 and labels.groupby("item_id").size().eq(2).all()


def test_labels_are_insert_only(populated) -> None:
    store, data = populated
    batch = _make(store, data, per_item=3, name="immutable", limit=2)
    item = ann.next_item(store, batch, "bob")
    assert ann.add_label(store, "bob", item.item_id, "A", source="test")
    assert not ann.add_label(store, "bob", item.item_id, "B", source="test")  # a second click never edits
    assert ann.add_label(store, "alice", item.item_id, "tie", source="test")  # a different annotator adds, never replaces
    labels = ann.labels(store, batch).set_index("annotator")["label"].to_dict()
    assert labels == {"bob": "A", "alice": "tie"}
    with pytest.raises(EvalkitError, match="label must be one of"):
        ann.add_label(store, "carol", item.item_id, "C", source="test")
    with pytest.raises(EvalkitError, match="annotator name"):
        ann.add_label(store, "  ", item.item_id, "A", source="test")


def test_batches_report_progress(populated) -> None:
    store, data = populated
    batch = _make(store, data, per_item=2, name="progress", limit=4)
    ann.add_label(store, "alice", ann.next_item(store, batch, "alice").item_id, "B", source="test")
    frame = ann.batches(store)
    row = frame.set_index("name").loc["progress"]
    assert (row["n_items"], row["n_labels"], row["per_item"]) == (4, 1, 2)
    assert (row["model"], row["baseline"]) == (data.checkpoints[-1], data.baselines[0])


def test_cli_create_and_status(populated, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, data = populated
    code = cli_main(
        [
            "annotate",
            "create",
            "--models",
            data.checkpoints[0],
            data.baselines[1],
            "--prompts",
            "bench",
            "--per-item",
            "3",
            "--limit",
            "10",
            "--db",
            db_url,
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["items"] == 10 and summary["labels_needed"] == 30
    assert cli_main(["annotate", "status", "--db", db_url, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status[0]["name"] == summary["batch"] and status[0]["n_labels"] == 0
    # the same batch again is refused in one line, exit 2
    assert (
        cli_main(
            [
                "annotate",
                "create",
                "--models",
                data.checkpoints[0],
                data.baselines[1],
                "--prompts",
                "bench",
                "--per-item",
                "3",
                "--db",
                db_url,
            ]
        )
        == 2
    )
    assert "already exists" in capsys.readouterr().err


def test_cli_errors_name_the_problem(populated, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, data = populated
    assert (
        cli_main(
            ["annotate", "create", "--models", "nope", data.baselines[0], "--prompts", "bench", "--per-item", "2", "--db", db_url]
        )
        == 2
    )
    assert "model 'nope' is not in the store" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "annotate",
                "create",
                "--models",
                data.baselines[0],
                data.baselines[0],
                "--prompts",
                "bench",
                "--per-item",
                "2",
                "--db",
                db_url,
            ]
        )
        == 2
    )
    assert "two different models" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "annotate",
                "create",
                "--models",
                data.checkpoints[0],
                data.baselines[0],
                "--prompts",
                "bench",
                "--per-item",
                "0",
                "--db",
                db_url,
            ]
        )
        == 2
    )
    assert "--per-item" in capsys.readouterr().err


def test_a_version_1_store_is_read_as_it_is_and_upgraded_by_a_writer(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    check_v1_store_is_read_then_upgraded(db_url, capsys)


def test_a_version_2_store_keeps_every_label_link_and_invitation_when_upgraded(db_url: str) -> None:
    check_v2_store_is_read_then_upgraded(db_url)
