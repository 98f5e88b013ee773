"""Labels that travel: AlpacaEval cross-annotations (read by alpaca-eval's own Analyzer) and evalkit's
labels JSONL, exported from one store and imported into another, idempotently."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.leaderboard_data import populate
from evalkit.cli import main as cli_main
from evalkit.errors import EvalkitError
from evalkit.stats.agreement import agreement_pairs
from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store import ratings as rt
from evalkit.store.label_exchange import export_labels, import_labels

LABELS = {"alice": ["A", "B", "tie", "A"], "bob": ["A", "A", "tie", "B"]}


def _store(url: str) -> tuple[Store, int]:
    """The same data and batch in any store (populate is seeded), with no labels yet."""
    store = Store(url)
    data = populate(store, runs=1, epochs=1, prompts=5, with_decisions=False)
    batch, _ = ann.create_batch(
        store, "team", store.model_id(data.checkpoints[0]), store.model_id(data.baselines[0]), "bench", per_item=2, limit=4
    )
    return store, batch


@pytest.fixture()
def labelled(tmp_path: Path) -> tuple[Store, int]:
    store, batch = _store(f"sqlite:///{tmp_path / 'a.db'}")
    for annotator, labels in LABELS.items():
        for label in labels:
            item = ann.next_item(store, batch, annotator)
            assert ann.add_label(store, annotator, item.item_id, label)
    return store, batch


def _shown(store: Store, batch: int) -> set[tuple[str, int, str]]:
    labels = ann.labels(store, batch)
    items = store.frame(ann.t.annotation_items.select()).set_index("id")["position"]
    return {(a, int(items[i]), label) for a, i, label in zip(labels["annotator"], labels["item_id"], labels["label"])}


@pytest.mark.slow  # importing alpaca_eval.analyze takes ~8 s
def test_alpaca_eval_export_reads_in_alpaca_evals_analyzer(labelled) -> None:
    from alpaca_eval.analyze import Analyzer

    store, batch = labelled
    rows = export_labels(store, "team", "alpaca_eval")
    assert len(rows) == 8 and {r["preference"] for r in rows} == {1.0, 1.5, 2.0}
    first = rows[0]
    item = ann.labels(store, batch).iloc[0]
    shown = {"A": 1.0, "B": 2.0, "tie": 1.5}[item["label"]]
    assert first["preference"] == shown and first["annotator_index"] == 0  # output_1 is Answer A as shown
    analyzer = Analyzer(gold_crossannotations=pd.DataFrame(rows), gold_annotations=None, n_annotators=2)
    score = analyzer.agreement_of_annotations(annotations_1="gold_crossannotations", n_majority_vote_1=1)["score"]
    long = pd.DataFrame(
        [(r["instruction"], r["annotator"], {1.0: "A", 2.0: "B", 1.5: "tie"}[r["preference"]]) for r in rows],
        columns=["item", "rater", "label"],
    )
    # two annotators: alpaca-eval's leave-one-out agreement is their tie-discounted accuracy
    assert score == pytest.approx(agreement_pairs(long)[0]["tie_discounted"])
    assert score == pytest.approx((1 + 0 + 1 + 0) / 4)


@pytest.mark.parametrize("fmt", ["alpaca_eval", "labels"])
def test_round_trip_into_another_store_is_idempotent(
    labelled, tmp_path: Path, db_url: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store, batch = labelled
    source = f"sqlite:///{tmp_path / 'a.db'}"
    out = tmp_path / f"labels.{fmt}"
    assert cli_main(["annotate", "export", "--batch", "team", "--format", fmt, "-o", str(out), "--db", source]) == 0
    target, target_batch = _store(db_url)
    for expected in ("imported 8 labels", "imported 0 labels"):  # the second import adds nothing
        assert cli_main(["annotate", "import", str(out), "--batch", "team", "--format", fmt, "--db", db_url]) == 0
        assert expected in capsys.readouterr().out
    assert _shown(target, target_batch) == _shown(store, batch)


def test_labels_jsonl_is_what_evalkit_agreement_reads(labelled, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, _ = labelled
    path = tmp_path / "labels.jsonl"
    assert cli_main(["annotate", "export", "--batch", "team", "--format", "labels", "--db", store.url]) == 0
    path.write_text(capsys.readouterr().out)
    assert json.loads(path.read_text().splitlines()[0]).keys() == {"item", "rater", "label"}
    assert cli_main(["agreement", "--labels", str(path), "--json"]) == 0
    assert "alice" in capsys.readouterr().out


def test_import_refuses_what_does_not_fit(labelled) -> None:
    store, _ = labelled
    with pytest.raises(EvalkitError, match="not an item of batch"):
        import_labels(store, "team", "labels", [{"item": "other#0", "rater": "x", "label": "A"}])
    with pytest.raises(EvalkitError, match="does not fit"):
        import_labels(store, "team", "labels", [{"item": "team#0", "rater": "x", "label": "excellent"}])
    with pytest.raises(EvalkitError, match="matches no item"):
        import_labels(store, "team", "alpaca_eval", [{"instruction": "?", "output_1": "a", "output_2": "b", "preference": 1}])
    rt.create_rating_batch(store, "abs", [1], "bench", per_item=1, limit=1)
    with pytest.raises(EvalkitError, match="use --format labels"):
        export_labels(store, "abs", "alpaca_eval")
    assert import_labels(store, "abs", "labels", [{"item": "abs#0", "rater": "x", "label": "excellent"}]).added == 1
    assert export_labels(store, "abs", "labels") == [{"item": "abs#0", "rater": "x", "label": "excellent"}]
