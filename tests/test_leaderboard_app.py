"""Each leaderboard page under Streamlit's AppTest: it renders from a real store, its filters change
what it shows, and the Annotate page's buttons write exactly one label."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.leaderboard_data import Populated, populate, simulate_annotators
from evalkit.store import Store
from evalkit.store import annotations as ann

APP = Path(__file__).resolve().parents[1] / "leaderboard" / "entry" / "app.py"


@pytest.fixture(scope="module")
def app_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Populated]]:
    """A small sweep (1 run x 6 epochs x 12 prompts, three judges, a decision, 3 annotators on 8 items)
    served to the app through EVALKIT_DB, as `evalkit leaderboard` does."""
    folder = tmp_path_factory.mktemp("leaderboard")
    url = f"sqlite:///{folder / 'store.db'}"
    store = Store(url)
    data = populate(store, runs=1, epochs=6, prompts=12)
    simulate_annotators(store, data.checkpoints[4], data.baselines[0], items=8)
    saved = {k: os.environ.get(k) for k in ("EVALKIT_DB", "EVALKIT_CACHE_DIR")}
    os.environ.update(EVALKIT_DB=url, EVALKIT_CACHE_DIR=str(folder / "cache"))
    yield url, data
    from evalkit.leaderboard.cache import shared_cache

    shared_cache(url).wait_idle(timeout=60)  # no background job may outlive the test session
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _open(page: str | None = None) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    if page:
        app.switch_page(f"../views/{page}.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def _texts(app: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "caption", "subheader", "info") for e in app.get(kind)]
    return "\n".join(str(p) for p in parts)


def test_leaderboard_lists_every_model_and_filters_by_baseline(app_store) -> None:
    _, data = app_store
    app = _open()
    text = _texts(app)
    for name in [*data.checkpoints, *data.baselines]:
        assert name in text  # the contract: a page load shows every model's name
    board = app.dataframe[0].value
    assert set(board["model"]) == {*data.checkpoints, *data.baselines}
    assert {"ae_win_rate", "win_pct", "tie_pct", "loss_pct", "likert_mean"} <= set(board.columns)
    first = board.set_index("model")["win_pct"].copy()
    baseline = app.sidebar.selectbox(key="w_baseline")
    assert baseline.index == 0
    baseline.select_index(1).run()
    assert not app.exception and app.sidebar.selectbox(key="w_baseline").index == 1
    second = app.dataframe[0].value.set_index("model")["win_pct"]
    assert not first.dropna().equals(second.dropna())  # the other baseline's numbers
    assert "Download PNG" in [b.label for b in app.get("download_button")]


def test_checkpoints_page_shows_the_decision(app_store) -> None:
    _, data = app_store
    app = _open("checkpoints")
    picked = app.get("metric")[0].value  # the picked checkpoint, by the real policy over epochs 5-6
    assert picked in ("epoch-5", "epoch-6")
    text = _texts(app)
    assert "selection window, epochs 5–10" in text and "Best vs runner-up" in text
    assert len(app.dataframe[0].value) == 2  # the policy's evidence: one row per checkpoint in the window
    assert len(app.dataframe[-1].value) == 6  # the run's table: one row per epoch


def test_compare_page_filters_to_order_flips(app_store) -> None:
    app = _open("compare")
    table = app.dataframe[0].value
    assert len(table) == 12 and "instruction" in table.columns
    app.checkbox[0].check().run()  # "Order flips"
    flipped = app.dataframe[0].value if app.dataframe else table.iloc[0:0]
    assert len(flipped) == int(table["order_flip"].sum()) < len(table)
    assert not app.exception


def test_agreement_page_pairs_annotators_and_judges(app_store) -> None:
    app = _open("agreement")
    text = _texts(app)
    assert "Agreement between raters" in text and "position consistency" in text
    lima = app.dataframe[0].value.set_index("raters")
    assert {"annotator – annotator", "annotator – judge"} <= set(lima.index)
    assert lima.loc["annotator – annotator", "pairs"] == 3  # ann, bob, cat


def test_annotate_writes_one_label_per_click(app_store) -> None:
    url, _ = app_store
    store = Store(url)
    batch = ann.create_batch(store, "apptest-batch", store.model_id("run-0/epoch-2"), store.model_id("alpaca-65b"),
                             "bench", per_item=2, limit=3)[0]
    app = _open("annotate")
    app.text_input(key="annotator_input").input("dana")
    app.button[0].click().run()  # "Start annotating"
    app.selectbox(key="annotate_batch").select(batch).run()
    text = _texts(app)
    assert "Answer A" in text and "Answer B" in text and "run-0" not in text  # blind: no model names
    before = len(ann.labels(store, batch))
    app.button(key="choice_B").click().run()
    labels = ann.labels(store, batch)
    assert len(labels) == before + 1
    assert labels.iloc[-1][["annotator", "label"]].tolist() == ["dana", "B"]
    assert ann.progress(store, batch, "dana") == (1, 2)


def test_every_page_renders_on_a_store_without_judgments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.records import ModelInfo

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Store(url).register_model(ModelInfo("lonely-model", "f" * 64))
    monkeypatch.setenv("EVALKIT_DB", url)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    app = _open()
    assert "lonely-model" in _texts(app) and "No judgments in the store yet" in _texts(app)
    for page in ("checkpoints", "compare", "annotate", "agreement"):
        app.switch_page(f"../views/{page}.py").run()
        assert not app.exception, (page, [e.message for e in app.exception])
        assert any("Rendered in" in c.value for c in app.caption)
