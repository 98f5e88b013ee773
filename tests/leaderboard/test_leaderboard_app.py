"""Each leaderboard page under Streamlit's AppTest: it renders from a real store, its filters change
what it shows, and the Annotate page's buttons write exactly one label."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from bench.leaderboard_data import Populated, populate, simulate_annotators
from evalkit.decision.evidence import stored_record
from evalkit.leaderboard.annotator_session import NEEDS_LINK
from evalkit.store import Store, admin_link
from evalkit.store import annotations as ann
from evalkit.store import invitations as inv
from evalkit.store import ratings as rt
from evalkit.store import schema as t

APP = Path(__file__).resolve().parents[2] / "leaderboard" / "entry" / "app.py"


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


@pytest.fixture(scope="module")
def admin(app_store) -> str:
    """The store's admin link: the result pages need it once a test here has invited an annotator."""
    url, _ = app_store
    return admin_link.replace(Store(url))


def _open(page: str | None = None, admin: str | None = None) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=60)
    if admin is not None:
        app.query_params["admin"] = admin
    app.run()
    if page:
        app.switch_page(f"../views/{page}.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def _texts(app: AppTest) -> str:
    parts = [e.value for kind in ("title", "markdown", "caption", "subheader", "info") for e in app.get(kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.slow  # several full page renders
def test_leaderboard_lists_every_model_and_filters_by_baseline(app_store, admin: str) -> None:
    _, data = app_store
    app = _open(admin=admin)
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


def test_checkpoints_page_shows_the_decision(app_store, admin: str) -> None:
    _, data = app_store
    app = _open("checkpoints", admin)
    picked = app.get("metric")[0].value  # the picked checkpoint, by the real policy over epochs 5-6
    assert picked in ("epoch-5", "epoch-6")
    text = _texts(app)
    assert "selection window, epochs 5–10" in text and "Best vs runner-up" in text
    assert len(app.dataframe[0].value) == 2  # the policy's evidence: one row per checkpoint in the window
    assert len(app.dataframe[-1].value) == 6  # the run's table: one row per epoch
    # the pick's power guidance, from the stored record: prompts in all and more, best and runner-up by name
    url, _ = app_store
    stored = stored_record(Store(url).decisions().iloc[-1]["evidence"])["power"]
    shown = next(line for line in text.splitlines() if line.startswith("**Power:**"))
    assert shown.startswith(
        f"**Power:** about {stored['prompts_needed']} prompts ({stored['more_prompts']} more) would separate "
        f"{stored['best']} from {stored['runner_up']} with 80% power"
    )


def test_compare_page_filters_to_order_flips(app_store, admin: str) -> None:
    app = _open("compare", admin)
    table = app.dataframe[0].value
    assert len(table) == 12 and "instruction" in table.columns
    app.checkbox[0].check().run()  # "Order flips"
    flipped = app.dataframe[0].value if app.dataframe else table.iloc[0:0]
    assert len(flipped) == int(table["order_flip"].sum()) < len(table)
    assert not app.exception


def test_agreement_page_pairs_annotators_and_judges(app_store, admin: str) -> None:
    app = _open("agreement", admin)
    text = _texts(app)
    assert "Agreement between raters" in text and "position consistency" in text
    lima = app.dataframe[0].value.set_index("raters")
    assert {"annotator – annotator", "annotator – judge"} <= set(lima.index)
    assert lima.loc["annotator – annotator", "pairs"] == 3  # ann, bob, cat


def _annotate(token: str | None, **extra: str) -> AppTest:
    """The Annotate page opened from a link: the query string goes in before the first run."""
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    app.switch_page("../views/annotate.py")
    if token is not None:
        app.query_params["token"] = token
    app.query_params.update(extra)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def _everything(app: AppTest) -> str:
    """Every text the page holds, widgets' labels included."""
    parts = [
        _texts(app),
        *(str(e.value) for kind in ("text", "warning", "success", "error") for e in app.get(kind)),
        *(b.label for b in app.button),
    ]
    return "\n".join(parts)


def test_annotate_writes_one_label_per_click_under_the_invited_name(app_store) -> None:
    url, _ = app_store
    store = Store(url)
    batch = ann.create_batch(
        store, "apptest-batch", store.model_id("run-0/epoch-2"), store.model_id("alpaca-65b"), "bench", per_item=2, limit=3
    )[0]
    token = parse_qs(urlparse(inv.invite(store, "apptest-batch", "dana", dt.timedelta(hours=1))).query)["token"][0]
    # a name in the URL changes nothing: the name comes from the invitation
    app = _annotate(token, annotator="mallory", name="mallory")
    text = _everything(app)
    assert "Answer A" in text and "Answer B" in text and "run-0" not in text  # blind: no model names
    assert "dana" in text and token not in text and not app.text_input  # no name box, the token is not echoed
    first_question = ann.next_item(store, batch, "dana").instruction
    assert first_question in text
    before = len(ann.labels(store, batch))
    app.button(key="choice_B").click().run()
    labels = ann.labels(store, batch)
    assert len(labels) == before + 1
    assert labels.iloc[-1][["annotator", "label"]].tolist() == ["dana", "B"]
    assert labels.iloc[-1]["source"] == inv.check(store, token).label_source  # "invitation:ID"
    assert ann.progress(store, batch, "dana") == (1, 2)
    inv.revoke(store, "apptest-batch", "dana")  # revoked while the page is open: the next click writes nothing
    app.button(key="choice_A").click().run()
    assert len(ann.labels(store, batch)) == before + 1
    assert NEEDS_LINK in _everything(app) and first_question not in _everything(app)


@pytest.mark.parametrize("token", [None, "", "not-a-real-token-" + "x" * 30])
def test_annotate_without_a_valid_link_shows_one_line_and_nothing_of_a_batch(app_store, token: str | None) -> None:
    url, _ = app_store
    store = Store(url)
    app = _annotate(token, annotator="ann")
    text = _everything(app)
    assert NEEDS_LINK in text
    labels = ann.labels(store)
    questions = set(store.frame(select(t.prompts.c.instruction))["instruction"])
    assert not any(q in text for q in questions) and not app.button and not app.get("progress")
    assert not any(word in text for word in ("Question", "Answer", "batch", "labelled", "items"))
    assert len(labels) == len(ann.labels(store))


def test_absolute_batch_screen_and_ratings_page(app_store, admin: str) -> None:
    url, data = app_store
    store = Store(url)
    batch, _ = rt.create_rating_batch(
        store, "apptest-abs", [store.model_id(m) for m in data.checkpoints[-2:]], "bench", per_item=2, limit=2
    )
    token = parse_qs(urlparse(inv.invite(store, "apptest-abs", "erin", dt.timedelta(hours=1))).query)["token"][0]
    app = _annotate(token)
    text = _everything(app)
    assert rt.next_rating_item(store, batch, "erin").instruction in text and "run-0" not in text
    assert [b.label for b in app.button] == list(rt.RATINGS.values())
    app.button(key="rate_excellent").click().run()
    app.button(key="rate_fail").click().run()
    assert rt.ratings(store, batch)[["annotator", "label"]].values.tolist() == [["erin", "excellent"], ["erin", "fail"]]
    assert set(rt.ratings(store, batch)["source"]) == {inv.check(store, token).label_source}
    assert rt.rating_progress(store, batch, "erin") == (2, 2)
    page = _open("ratings", admin)
    page.selectbox(key="w_ratings_batch").select(batch).run()
    assert not page.exception and page.get("vega_lite_chart")  # LIMA Figure 3's stacked bars
    agreement = page.dataframe[0].value.set_index("raters")
    assert agreement.loc["humans – humans", "n"] == 0  # one annotator so far: no pairs yet


def test_agreement_page_never_shows_a_token(app_store, admin: str) -> None:
    url, _ = app_store
    store = Store(url)
    link = inv.invite(store, "run-0/epoch-5-vs-gpt-3.5-turbo", "fred", dt.timedelta(hours=1))
    token = parse_qs(urlparse(link).query)["token"][0]
    app = _open("agreement", admin)
    assert token not in _everything(app) and inv.token_hash(token) not in _everything(app)


def test_every_page_renders_on_a_store_without_judgments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.core.records import ModelInfo

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Store(url).register_model(ModelInfo("lonely-model", "f" * 64))
    monkeypatch.setenv("EVALKIT_DB", url)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    app = _open()
    assert "lonely-model" in _texts(app) and "No judgments in the store yet" in _texts(app)
    for page in ("checkpoints", "compare", "annotate", "agreement", "ratings"):
        app.switch_page(f"../views/{page}.py").run()
        assert not app.exception, (page, [e.message for e in app.exception])
        assert any("Rendered in" in c.value for c in app.caption)


@pytest.mark.slow  # waits 3 s by design
def test_failed_tokens_slow_the_session_down(app_store) -> None:
    from evalkit.leaderboard.backoff import backoff_seconds

    assert [backoff_seconds(n) for n in (0, 1, 2, 3, 6, 20)] == [0.0, 1.0, 2.0, 4.0, 30.0, 30.0]
    # Check k+1 comes at least backoff(k) after check k, and check k happens inside run k: so runs k and
    # k+1 together take at least backoff(k), however long the rest of each run takes.
    marks = [time.perf_counter()]
    app = _annotate("guess-" + "y" * 40)  # check 1
    marks.append(time.perf_counter())
    for _ in range(2):  # checks 2 and 3
        app.run()
        marks.append(time.perf_counter())
    assert marks[2] - marks[0] >= 1.0 and marks[3] - marks[1] >= 2.0
    assert NEEDS_LINK in _everything(app)
