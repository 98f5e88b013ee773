"""LIMA's absolute rating: batches over several models, K ratings per answer, insert-only; the
`absolute` judge through a scripted endpoint; Figure 3's shares and agreement checked by hand and
against scikit-learn."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from bench.leaderboard_data import populate
from evalkit.cli.main import main as cli_main
from evalkit.core.errors import EvalkitError
from evalkit.judge_eval.ratings import figure3, judge_ratings
from evalkit.judges.absolute import RATING_SCORES, parse_absolute_reply
from evalkit.judges.registry import make_judge
from evalkit.judges.runner import RunOptions, judge_single
from evalkit.stats.absolute import agreement_with_others, pooled_agreement, rating_shares
from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store import ratings as rt
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, last_user_message


@pytest.fixture()
def rated(store: Store):
    data = populate(store, runs=1, epochs=2, prompts=5, with_decisions=False)
    models = [data.checkpoints[-1], data.baselines[0]]
    batch, n = rt.create_rating_batch(store, "abs", [store.model_id(m) for m in models], "bench", per_item=2, limit=3)
    return store, batch, n, models


def test_batch_rates_each_models_answer_once_in_a_shuffled_order(rated) -> None:
    store, batch, n, _ = rated
    assert n == 6
    items = rt.rating_items(store, batch).sort_values("position")
    assert items.groupby("model_id").size().tolist() == [3, 3] and items["generation_id"].is_unique
    assert items["model_id"].tolist() != sorted(items["model_id"].tolist())  # shuffled (seeded by the name)
    first = rt.next_rating_item(store, batch, "x")
    assert first.item_id == int(items.iloc[0]["id"]) and first.instruction.startswith("Question") and first.answer


def test_k_ratings_per_answer_insert_only_and_one_batch(rated, db_url: str) -> None:
    store, batch, _, models = rated
    seen = {}
    for annotator in ("alice", "bob", "carol"):
        while (item := rt.next_rating_item(store, batch, annotator)) is not None:
            assert rt.add_rating(store, annotator, item.item_id, "pass", batch=batch, source="test")
            seen.setdefault(annotator, []).append(item.item_id)
    assert len(seen["alice"]) == len(seen["bob"]) == 6 and "carol" not in seen
    assert not rt.add_rating(store, "alice", seen["alice"][0], "fail", source="test")  # never edits
    assert not rt.add_rating(store, "carol", seen["alice"][0], "fail", source="test")  # the item has its K=2 ratings
    assert rt.rating_progress(store, batch, "alice") == (6, 0)
    assert set(rt.ratings(store, batch)["label"]) == {"pass"}
    with pytest.raises(EvalkitError, match="rating must be one of"):
        rt.add_rating(store, "dave", seen["alice"][0], "good", source="test")
    other, _ = rt.create_rating_batch(store, "abs-2", [store.model_id(models[0])], "bench", per_item=1, limit=1)
    with pytest.raises(EvalkitError, match="does not exist in this batch"):
        rt.add_rating(store, "dave", seen["alice"][0], "pass", batch=other, source="test")
    with pytest.raises(EvalkitError, match="already exists"):
        rt.create_rating_batch(store, "abs", [store.model_id(models[0])], "bench", per_item=1)


def test_both_kinds_share_one_table_family_yet_stay_apart(rated) -> None:
    """Pairwise and absolute batches share ids, names and the label table: a label never lands on an
    item of the other kind, and each kind lists only its own batches and labels."""
    store, batch, _, models = rated
    pair, _ = ann.create_batch(store, "pair", store.model_id(models[0]), store.model_id(models[1]), "bench", per_item=1)
    pair_item = ann.next_item(store, pair, "alice")
    rating_item = rt.next_rating_item(store, batch, "alice")
    assert pair_item is not None and rating_item is not None and pair != batch
    with pytest.raises(EvalkitError, match=f"rating item {pair_item.item_id} does not exist"):
        rt.add_rating(store, "alice", pair_item.item_id, "pass", source="test")
    with pytest.raises(EvalkitError, match=f"annotation item {rating_item.item_id} does not exist"):
        ann.add_label(store, "alice", rating_item.item_id, "A", source="test")
    with pytest.raises(EvalkitError, match="already exists"):
        ann.create_batch(store, "abs", store.model_id(models[0]), store.model_id(models[1]), "bench", per_item=1)
    assert ann.add_label(store, "alice", pair_item.item_id, "A", source="test")
    assert rt.add_rating(store, "alice", rating_item.item_id, "pass", batch, source="test")
    assert list(ann.batches(store)["name"]) == ["pair"] and list(rt.rating_batches(store)["name"]) == ["abs"]
    assert list(ann.labels(store)["label"]) == ["A"] and list(rt.ratings(store)["label"]) == ["pass"]
    with pytest.raises(EvalkitError, match="does not exist"):
        ann.batch_id(store, "abs")


def test_cli_creates_an_absolute_batch(store: Store, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = populate(store, runs=1, epochs=1, prompts=4, with_decisions=False)
    assert (
        cli_main(
            [
                "annotate",
                "create",
                "--mode",
                "absolute",
                "--models",
                *data.checkpoints,
                *data.baselines,
                "--prompts",
                "bench",
                "--per-item",
                "2",
                "--name",
                "fig3",
                "--db",
                db_url,
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert (summary["mode"], summary["items"], summary["labels_needed"]) == ("absolute", 12, 24)
    assert (
        cli_main(
            [
                "annotate",
                "create",
                "--models",
                *data.checkpoints,
                *data.baselines,
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
    assert "two models" in capsys.readouterr().err
    assert (
        cli_main(
            [
                "annotate",
                "create",
                "--models",
                *data.checkpoints,
                data.baselines[0],
                "--prompts",
                "bench",
                "--per-item",
                "2",
                "--name",
                "fig3",
                "--db",
                db_url,
            ]
        )
        == 2
    )  # names are unique across both modes
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("It answers fully.\nPass\nPass", "pass"),
        ("Great.\n**Excellent**\nExcellent.", "excellent"),
        ("meh\nRating: fail", "fail"),
        ("Pass\nExcellent", None),
        ("I would say it passes", None),
        ("", None),
    ],
)
def test_absolute_judge_parse_rule(reply: str, expected: str | None) -> None:
    assert parse_absolute_reply(reply) == expected


def test_absolute_judge_and_figure3(rated, monkeypatch: pytest.MonkeyPatch) -> None:
    store, batch, _, models = rated
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    judge = make_judge("absolute", judge_model="fake-judge")
    assert judge.mode == "single" and RATING_SCORES == {"fail": 1.0, "pass": 2.0, "excellent": 3.0}

    def responder(body: dict[str, Any]) -> Completion:
        content = last_user_message(body)
        assert "Excellent: the model provides an excellent response to the prompt." in content
        i = int(re.search(r"Question (\d+)", content).group(1))
        return Completion(f"reasons\n{['Fail', 'Pass', 'Excellent'][i % 3]}\n{['Fail', 'Pass', 'Excellent'][i % 3]}")

    with FakeOpenAIServer(responder) as server:
        for model in models:
            judge_single(store, judge, store.model_id(model), options=RunOptions(base_url=server.base_url, concurrency=2))
    judged = judge_ratings(store, batch)
    items = rt.rating_items(store, batch)
    assert len(judged) == 6 and set(judged["rater"]) == {"absolute:fake-judge"}
    human = {
        "alice": ["fail", "pass", "excellent", "pass", "pass", "fail"],
        "bob": ["fail", "pass", "pass", "pass", "fail", "fail"],
    }
    order = items.sort_values("position")["id"].tolist()
    for annotator, labels in human.items():
        for item, label in zip(order, labels):
            assert rt.add_rating(store, annotator, int(item), label, source="test")
    fig = figure3(store, batch)

    humans = rt.ratings(store, batch)
    for model in models:  # shares by hand
        mine = humans[humans["model"] == model]["label"].value_counts(normalize=True)
        row = fig.shares[(fig.shares["model"] == model) & (fig.shares["source"] == "humans")].iloc[0]
        assert [row[r] for r in ("fail", "pass", "excellent")] == pytest.approx(
            [mine.get(r, 0.0) for r in ("fail", "pass", "excellent")]
        )
    assert fig.shares.groupby("source")["n"].sum().to_dict() == {"humans": 12, "absolute:fake-judge": 6}

    judge_of = dict(zip(judged["item_id"], judged["label"]))
    pairs = [(label, judge_of[item]) for item, label in zip(humans["item_id"], humans["label"])]
    row = fig.agreement.set_index("raters").loc["humans – absolute:fake-judge"]
    assert row["n"] == 12 and row["agreement"] == pytest.approx(sum(a == b for a, b in pairs) / 12)
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs]))
    humans_row = fig.agreement.set_index("raters").loc["humans – humans"]
    assert humans_row["n"] == 6 and humans_row["agreement"] == pytest.approx(4 / 6)
    assert humans_row["cohen_kappa"] == pytest.approx(cohen_kappa_score(human["alice"], human["bob"]))
    assert fig.annotators == pytest.approx({"alice": 4 / 6, "bob": 4 / 6})


def test_stats_by_hand() -> None:
    frame = pd.DataFrame({"model": ["m"] * 4 + ["n"], "label": ["fail", "pass", "pass", "excellent", "bogus"]})
    shares = rating_shares(frame, ["model"]).set_index("model")
    assert shares.loc["m"].tolist() == [0.25, 0.5, 0.25, 4] and "n" not in shares.index  # invalid labels are left out
    assert pooled_agreement(pd.Series(["fail", "pass", None]), pd.Series(["fail", "excellent", "pass"])) == pytest.approx(
        {"n": 2, "agreement": 0.5, "cohen_kappa": cohen_kappa_score(["fail", "pass"], ["fail", "excellent"])}
    )
    long = pd.DataFrame(
        {"item": [1, 1, 1, 2, 2], "rater": ["a", "b", "c", "a", "b"], "label": ["pass", "pass", "fail", "fail", "excellent"]}
    )
    # a: (1: b agrees, c not), (2: b not) -> 1/3; b: same pairs as a -> 1/3; c: item 1 vs a, b -> 0/2
    assert agreement_with_others(long) == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 0.0})
