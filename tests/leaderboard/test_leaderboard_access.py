"""Blind annotation: once anyone is invited, or the server is bound beyond loopback, every page but
Annotate needs the admin link; an annotator's link opens Annotate only. Checked on every rerun, under
Streamlit's AppTest, on a store served through EVALKIT_DB as `evalkit leaderboard` serves it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import delete
from streamlit.testing.v1 import AppTest

from bench.leaderboard_data import Populated, populate, simulate_annotators
from evalkit.leaderboard import launch_env
from evalkit.leaderboard.admin_session import LOCKED, WRONG_ADMIN_LINK
from evalkit.leaderboard.annotator_session import NEEDS_LINK
from evalkit.store import Store, admin_link
from evalkit.store import annotations as ann
from evalkit.store import invitations as inv
from evalkit.store import schema as t
from tests.helpers import leaderboard_env

APP = Path(__file__).resolve().parents[2] / "leaderboard" / "entry" / "app.py"
RESULT_PAGES = ("leaderboard", "checkpoints", "compare", "agreement", "judges", "ratings", "experiments")
ANNOTATORS = ("rater-alice", "rater-bruno", "rater-chen")  # names no page text contains by chance


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Populated]]:
    """Two checkpoints and two baselines, judged, with three annotators' labels (names on Agreement)."""
    folder = tmp_path_factory.mktemp("access")
    url = f"sqlite:///{folder / 'store.db'}"
    store = Store(url)
    data = populate(store, runs=1, epochs=2, prompts=6, with_decisions=False)
    simulate_annotators(store, data.checkpoints[1], data.baselines[0], items=4, annotators=ANNOTATORS)
    with leaderboard_env(url, folder):
        yield store, data


@pytest.fixture
def store(served: tuple[Store, Populated], monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The shared store as each test expects to find it: nobody invited, no admin link, loopback."""
    for name in (launch_env.EXPOSED, launch_env.ADMIN_SHA256):
        monkeypatch.delenv(name, raising=False)
    store, _ = served
    yield store
    with store.engine.begin() as conn:
        conn.execute(delete(t.annotation_invitations))
        conn.execute(delete(t.meta).where(t.meta.c.key == admin_link.META_KEY))


def _invite(store: Store, data: Populated, annotator: str = "dana") -> str:
    name = f"blind-{annotator}-{time.monotonic_ns()}"
    ann.create_batch(
        store, name, store.model_id(data.checkpoints[0]), store.model_id(data.baselines[0]), "bench", per_item=1, limit=2
    )
    return parse_qs(urlparse(inv.invite(store, name, annotator, dt.timedelta(hours=1))).query)["token"][0]


def _app(**query: str) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.query_params.update(query)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def _visit(app: AppTest, page: str) -> AppTest:
    app.switch_page(f"../views/{page}.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def _shown(app: AppTest) -> str:
    """Everything the page holds as text: markdown, alerts, plain text, labels, table cells."""
    kinds = ("title", "markdown", "caption", "subheader", "info", "warning", "error", "success", "text")
    parts = [str(e.value) for kind in kinds for e in app.get(kind)]
    parts += [b.label for b in app.button] + [s.label for s in app.selectbox] + [str(o) for s in app.selectbox for o in s.options]
    parts += [frame.value.to_csv() for frame in app.dataframe]
    return "\n".join(parts)


def _secret_names(data: Populated) -> list[str]:
    return [*data.checkpoints, *data.baselines, *ANNOTATORS]


@pytest.mark.slow  # renders every page
def test_every_page_is_open_on_loopback_with_nobody_invited(store: Store, served) -> None:
    _, data = served
    app = _app()
    for page in RESULT_PAGES:
        _visit(app, page)
        assert NEEDS_LINK not in _shown(app), page
    assert all(name in _shown(_visit(app, "agreement")) for name in ANNOTATORS)
    assert data.checkpoints[0] in _shown(_visit(app, "compare"))


def test_an_annotators_link_opens_annotate_and_nothing_else(store: Store, served) -> None:
    _, data = served
    token = _invite(store, data)
    app = _app(token=token)  # the front page ("/", or any page it may not see): which link to open
    assert LOCKED in _shown(app) and not any(name in _shown(app) for name in _secret_names(data))
    text = _shown(_visit(app, "annotate"))  # the link's own page, /annotate
    assert "Answer A" in text and "dana" in text
    assert not any(name in text for name in _secret_names(data)) and not app.dataframe
    for page in RESULT_PAGES:  # no other page is registered, so none of their scripts can run
        with pytest.raises(ValueError, match="Known pages"):
            app.switch_page(f"../views/{page}.py")
    app.query_params.clear()  # without any link: the one line, nothing else
    app.run()
    assert NEEDS_LINK in _shown(app) and not any(name in _shown(app) for name in _secret_names(data))


@pytest.mark.slow  # renders every page, twice
def test_the_admin_link_opens_every_page_until_it_is_replaced(store: Store, served) -> None:
    _, data = served
    _invite(store, data)
    token = admin_link.replace(store)
    app = _app(admin=token)
    assert all(name in _shown(app) for name in data.checkpoints)
    app.query_params.clear()  # sidebar navigation drops the query string: the session remembers the link
    for page in RESULT_PAGES:
        _visit(app, page)
        assert NEEDS_LINK not in _shown(app), page
    assert all(name in _shown(_visit(app, "agreement")) for name in ANNOTATORS)
    state = repr(app.session_state.to_dict())
    assert token not in state and token not in _shown(app)  # only the link's hash is remembered
    admin_link.replace(store)  # `evalkit leaderboard --new-admin-link`: the old link ends at the next rerun
    app.run()
    assert LOCKED in _shown(app) and not any(name in _shown(app) for name in _secret_names(data))
    fresh = _app(admin=token)
    assert WRONG_ADMIN_LINK in _shown(fresh) and not any(name in _shown(fresh) for name in _secret_names(data))


def test_a_wrong_admin_link_is_refused_and_slows_the_session(store: Store, served) -> None:
    _, data = served
    _invite(store, data)
    admin_link.replace(store)
    started = time.perf_counter()
    app = _app(admin="guess-" + "z" * 40)  # check 1
    app.run()  # check 2 comes at least 1 s after check 1
    assert time.perf_counter() - started >= 1.0
    text = _shown(app)
    assert WRONG_ADMIN_LINK in text and "guess-" not in text
    assert not any(name in text for name in _secret_names(data))


def test_beyond_loopback_the_results_need_the_admin_link_without_invitations(
    store: Store, served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`evalkit leaderboard --host 0.0.0.0` sets EXPOSED; on a read-only store the link is this process's
    own, reaching the server as its hash only."""
    _, data = served
    monkeypatch.setenv(launch_env.EXPOSED, "1")
    locked = _app()
    assert LOCKED in _shown(locked) and not any(name in _shown(locked) for name in _secret_names(data))
    process_token = admin_link.new_token()
    monkeypatch.setenv(launch_env.ADMIN_SHA256, inv.token_hash(process_token))
    opened = _app(admin=process_token)
    assert all(name in _shown(opened) for name in data.checkpoints)
