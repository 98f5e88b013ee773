"""Prompts, answers and names from the store never reach Markdown unescaped: a prompt holding a remote
image (`![x](http://...)`) would make every annotator's browser fetch it. Each page that shows them runs
under AppTest on a store whose prompts, answers and model names all carry such Markdown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from bench.leaderboard_data import _pairwise
from evalkit.core.hashing import content_hash
from evalkit.core.records import DecodingParams, GenerationResult, ModelInfo, Prompt, PromptSet
from evalkit.store import Store, admin_link
from evalkit.store import annotations as ann
from evalkit.store import invitations as inv
from evalkit.store import ratings as rt
from evalkit.store import schema as t
from tests.helpers import leaderboard_env
from tests.leaderboard.test_leaderboard_access import APP

QUESTION = "Describe this ![chart](http://evil.example/q.png) and [click](http://evil.example/c) :red[now]"
EARLIER = "Earlier turn ![t](http://evil.example/t.png)"
ANSWER = "Sure: ![pixel](http://evil.example/a.png) <img src='http://evil.example/i.png'>"
MARKDOWN_KINDS = ("title", "markdown", "caption", "subheader", "header", "info", "warning", "error", "success", "toast")


def _hostile_store(store: Store) -> tuple[list[int], int]:
    """Two checkpoints (named with Markdown) and a baseline, answering three hostile prompts (one
    multi-turn), judged pairwise; returns (checkpoint ids, baseline id)."""
    multi_turn = ({"role": "system", "content": EARLIER}, {"role": "user", "content": EARLIER})
    multi_turn += ({"role": "assistant", "content": EARLIER}, {"role": "user", "content": QUESTION})
    prompts = [Prompt("p0", multi_turn, dataset="bench")]
    prompts += [Prompt(f"p{i}", ({"role": "user", "content": f"{QUESTION} ({i})"},), dataset="bench") for i in (1, 2)]
    store.save_prompt_set(PromptSet("bench", tuple(prompts), "test"))
    names = [f"![m{i}](http://evil.example/m{i}.png)" for i in range(2)] + ["baseline"]
    ids = [store.register_model(ModelInfo(name, content_hash(["hostile", name]))) for name in names]
    answers = [GenerationResult(p.hash, 0, ANSWER, 20, 12, "stop", 0.5) for p in prompts]
    for model in ids:
        store.add_generations(model, DecodingParams(), "bench", answers)
    frame = store.frame(select(t.generations.c.id, t.generations.c.model_id, t.generations.c.prompt_hash))
    gens = {m: dict(zip(g.prompt_hash, g.id.astype(int))) for m, g in frame.groupby("model_id")}
    rng = np.random.default_rng(0)
    for model in ids[:2]:
        judged = _pairwise(rng, 0.5, gens[model], gens[ids[2]], prompts)
        store.add_judgments_with_uses(judged, [(j.cache_key, j.generation_a, j.generation_b) for j in judged])
    return ids[:2], ids[2]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[int], int]]:
    folder = tmp_path_factory.mktemp("plain-text")
    url = f"sqlite:///{folder / 'store.db'}"
    store = Store(url)
    checkpoints, baseline = _hostile_store(store)
    with leaderboard_env(url, folder):
        yield store, checkpoints, baseline


def _rendered_as_markdown(app: AppTest) -> list[str]:
    """Every string Streamlit renders as Markdown: body elements, alerts, and widget and expander labels."""
    parts = [str(e.value) for kind in MARKDOWN_KINDS for e in app.get(kind)]
    parts += [e.label for e in app.expander] + [b.label for b in app.button]
    parts += [w.label for w in app.selectbox] + [w.label for w in app.checkbox]
    parts += [str(p.proto.text) for p in app.get("progress")]
    return parts


def _assert_plain(app: AppTest, *shown: str) -> None:
    assert not app.exception, [e.message for e in app.exception]
    remote = [p for p in _rendered_as_markdown(app) if "![" in p or "](" in p or "<img" in p or ":red[" in p]
    assert not remote, remote
    texts = [str(e.value) for e in app.text]
    for expected in shown:  # still shown, as plain text
        assert expected in texts, (expected, texts)


def _link(store: Store, batch: str, annotator: str) -> str:
    return parse_qs(urlparse(inv.invite(store, batch, annotator, dt.timedelta(hours=1))).query)["token"][0]


def test_annotate_screens_show_prompts_and_answers_as_plain_text(hostile) -> None:
    store, checkpoints, baseline = hostile
    ann.create_batch(store, "hostile-pairs", checkpoints[0], baseline, "bench", per_item=1, limit=2)
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.query_params["token"] = _link(store, "hostile-pairs", "erin")
    app.run().switch_page("../views/annotate.py").run()
    _assert_plain(app, QUESTION, EARLIER, ANSWER)

    rt.create_rating_batch(store, "hostile-ratings", checkpoints, "bench", per_item=1, limit=2)
    rating = AppTest.from_file(str(APP), default_timeout=60)
    rating.query_params["token"] = _link(store, "hostile-ratings", "erin")
    rating.run().switch_page("../views/annotate.py").run()
    assert [b.label for b in rating.button] == list(rt.RATINGS.values())
    _assert_plain(rating, QUESTION, EARLIER, ANSWER)


def test_compare_and_leaderboard_escape_names_and_show_texts_plainly(hostile) -> None:
    store, _, _ = hostile
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.query_params["admin"] = admin_link.replace(store)  # invitations exist once the test above ran
    app.run()
    _assert_plain(app)
    app.switch_page("../views/compare.py").run()
    _assert_plain(app, QUESTION, EARLIER, ANSWER)
    assert app.expander and app.get("caption")
