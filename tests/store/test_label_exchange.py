"""Labels that travel: AlpacaEval cross-annotations (read by alpaca-eval's own Analyzer) and evalkit's
labels JSONL, exported from one store and imported into another, idempotently."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from bench.leaderboard_data import populate
from evalkit.cli.main import main as cli_main
from evalkit.core.errors import EvalkitError
from evalkit.stats.agreement import agreement_pairs
from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store import invitations as inv
from evalkit.store import ratings as rt
from evalkit.store.label_exchange import LabelFile, export_labels, import_labels

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
            assert ann.add_label(store, annotator, item.item_id, label, source="test")
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
        import_labels(store, "team", "labels", LabelFile.of("f.json", [{"item": "other#0", "rater": "x", "label": "A"}]))
    with pytest.raises(EvalkitError, match="does not fit"):
        import_labels(store, "team", "labels", LabelFile.of("f.json", [{"item": "team#0", "rater": "x", "label": "excellent"}]))
    with pytest.raises(EvalkitError, match="matches no item"):
        import_labels(
            store,
            "team",
            "alpaca_eval",
            LabelFile.of("f.json", [{"instruction": "?", "output_1": "a", "output_2": "b", "preference": 1}]),
        )
    rt.create_rating_batch(store, "abs", [1], "bench", per_item=1, limit=1)
    with pytest.raises(EvalkitError, match="use --format labels"):
        export_labels(store, "abs", "alpaca_eval")
    assert (
        import_labels(
            store, "abs", "labels", LabelFile.of("f.json", [{"item": "abs#0", "rater": "x", "label": "excellent"}])
        ).added
        == 1
    )
    assert export_labels(store, "abs", "labels") == [{"item": "abs#0", "rater": "x", "label": "excellent"}]


# ---- provenance, invited names, all or nothing, one-line errors (issue 23) ----------------------


def _import(path: Path, url: str, fmt: str = "labels", *extra: str) -> int:
    return cli_main(["annotate", "import", str(path), "--batch", "team", "--format", fmt, "--db", url, *extra])


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_every_label_records_its_source(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The Annotate page's labels record their invitation, imported ones the file's name (not its
    folder); status and the alpaca_eval export show it."""
    store, batch = _store(db_url)
    link = inv.invite(store, "team", "alice", dt.timedelta(hours=1))
    invitation = inv.check(store, parse_qs(urlparse(link).query)["token"][0])
    assert invitation is not None and invitation.label_source == f"invitation:{invitation.id}"
    item = ann.next_item(store, batch, "alice")
    # what leaderboard/views/annotate.py does on a click
    assert ann.add_label(store, invitation.annotator, item.item_id, "A", source=invitation.label_source)
    path = _jsonl(tmp_path / "private-folder" / "bob-labels.jsonl", [{"item": "team#0", "rater": "bob", "label": "B"}])
    assert _import(path, db_url) == 0
    assert "import:bob-labels.jsonl" in capsys.readouterr().out
    sources = dict(zip(ann.labels(store, batch)["annotator"], ann.labels(store, batch)["source"]))
    assert sources == {"alice": f"invitation:{invitation.id}", "bob": "import:bob-labels.jsonl"}
    assert all("private-folder" not in source for source in sources.values())
    assert {row["annotator"]: row["source"] for row in export_labels(store, "team", "alpaca_eval")} == sources
    assert cli_main(["annotate", "status", "--db", db_url, "--json"]) == 0
    annotators = {row["annotator"]: row for row in json.loads(capsys.readouterr().out)[0]["annotators"]}
    assert annotators["alice"]["sources"] == [{"source": f"invitation:{invitation.id}", "labels": 1}]
    assert annotators["bob"]["sources"] == [{"source": "import:bob-labels.jsonl", "labels": 1}]
    assert cli_main(["annotate", "status", "--db", db_url]) == 0
    assert f"from invitation:{invitation.id} (1)" in capsys.readouterr().out


def test_import_never_writes_under_an_invited_name_unasked(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store, batch = _store(db_url)
    inv.invite(store, "team", "alice", dt.timedelta(hours=1))
    own = _jsonl(tmp_path / "alice.jsonl", [{"item": f"team#{n}", "rater": "Alice ", "label": "A"} for n in range(3)])
    assert _import(own, db_url) == 2
    assert "invited annotator" in _one_line_error(capsys) and len(ann.labels(store, batch)) == 0
    # said explicitly: every row is stored under the name given, and the source says so
    assert _import(own, db_url, "labels", "--as-annotator", "alice") == 0
    stored = ann.labels(store, batch)
    assert list(stored["annotator"]) == ["alice"] * 3
    assert set(stored["source"]) == {"import:alice.jsonl (--as-annotator; the file's rater: 'Alice ')"}
    # --as-annotator takes one rater's file: two raters' labels never merge under one name
    mixed = _jsonl(tmp_path / "mixed.jsonl", [{"item": "team#3", "rater": r, "label": "A"} for r in ("carl", "dora")])
    assert _import(mixed, db_url, "labels", "--as-annotator", "erin") == 2
    assert "2 raters" in _one_line_error(capsys) and len(ann.labels(store, batch)) == 3


def check_all_or_nothing(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad row 3 (no rater name, or one longer than the schema's 200 characters) stores nothing,
    the same on SQLite and PostgreSQL; the re-run fails the same way; the fixed file then imports whole."""
    store, batch = _store(url)
    good = [{"item": f"team#{n}", "rater": "carl", "label": "A"} for n in range(2)]
    for bad, message in (
        ({**good[0], "item": "team#2", "rater": "  "}, "labels.jsonl:3: an annotator name is required"),
        ({**good[0], "item": "team#2", "rater": "x" * 201}, "201 characters"),
    ):
        path = _jsonl(tmp_path / "labels.jsonl", [*good, bad])
        for _ in range(2):  # the re-run fails exactly as the first run did
            assert _import(path, url) == 2
            assert message in _one_line_error(capsys)
            assert len(ann.labels(store, batch)) == 0
    assert _import(_jsonl(tmp_path / "labels.jsonl", [*good, {**good[0], "item": "team#2"}]), url) == 0
    assert len(ann.labels(store, batch)) == 3


def test_import_is_all_or_nothing(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    check_all_or_nothing(db_url, tmp_path, capsys)


def test_import_errors_name_the_line_in_one_line(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    store, batch = _store(db_url)
    row = {"item": "team#0", "rater": "carl", "label": "A"}
    # a blank line and a JSON string holding U+2028 (a line break to str.splitlines, not to JSONL) come first
    text = json.dumps({**row, "rater": "carl\u2028x"}, ensure_ascii=False) + "\n\n" + json.dumps(row) + "\n{oops\n"
    (tmp_path / "bad.jsonl").write_text(text, encoding="utf-8")
    assert _import(tmp_path / "bad.jsonl", db_url) == 2
    assert "bad.jsonl:4: bad JSON" in _one_line_error(capsys)
    shown = export_labels(*_labelled_copy(tmp_path, db_url), "alpaca_eval")
    (tmp_path / "cross.json").write_text(json.dumps([shown[0], shown[1], {**shown[2], "preference": "abc"}]))
    assert _import(tmp_path / "cross.json", db_url, "alpaca_eval") == 2
    assert "cross.json:1, row 3: preference must be 1, 1.5 or 2" in _one_line_error(capsys)
    for bad in ({"item": ["team#0"]}, {"item": "team#\u00b2"}, {"rater": None}, {"rater": [[]]}, {"label": 1}):
        assert _import(_jsonl(tmp_path / "odd.jsonl", [row, {**row, **bad}]), db_url) == 2
        assert "odd.jsonl:2" in _one_line_error(capsys)
    for fmt in ("labels", "alpaca_eval"):
        (tmp_path / "deep.json").write_text("[" * 100_000)
        assert _import(tmp_path / "deep.json", db_url, fmt) == 2
        assert "nested too deeply" in _one_line_error(capsys)
    assert len(ann.labels(store, batch)) == 0


def _labelled_copy(tmp_path: Path, url: str) -> tuple[Store, str]:
    """A second store with the same batch and labels (alpaca_eval rows hold the texts of `url`'s items)."""
    store, batch = _store(f"sqlite:///{tmp_path / 'copy.db'}")
    for n, item in enumerate(
        store.frame(ann.t.annotation_items.select().where(ann.t.annotation_items.c.batch_id == batch))["id"]
    ):
        assert ann.add_label(store, "carl", int(item), LABELS["alice"][n], source="test")
    return store, "team"
