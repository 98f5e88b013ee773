"""LIMA's absolute ratings in the report: the Ratings view holds, per batch, the Figure 3 shares the
leaderboard's Ratings page shows (evalkit.judge_eval.ratings.figure3, humans and the absolute judge),
each printed in percent with the report's one decimal, and the agreement with the Ratings page's three
decimals; a rated prompt's drill-down carries every annotator's rating of each rated answer (and the
page, in headless chromium, shows both); a store without ratings has no Ratings view."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.leaderboard_data import populate
from evalkit.cli.main import main as cli_main
from evalkit.core.ordering import natural_sorted
from evalkit.core.rounding import format_figure
from evalkit.judge_eval.ratings import figure3
from evalkit.judges.registry import make_judge
from evalkit.judges.runner import RunOptions, judge_single
from evalkit.stats.absolute import RATING_ORDER
from evalkit.store import Store
from evalkit.store import ratings as rt
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, last_user_message
from tests.leaderboard_browser import browser_missing_reason, chrome

Rated = tuple[Store, int, list[str]]  # the store, the absolute batch, its two models (checkpoint, baseline)
HUMAN_RATINGS = {
    "alice": ["fail", "pass", "excellent", "pass", "pass", "fail"],
    "bob": ["fail", "pass", "pass", "excellent", "fail", "fail"],
}


def _report(db_url: str, out: Path, *extra: str) -> dict[str, Any]:
    assert cli_main(["report", "--db", db_url, "--out", str(out), *extra]) == 0
    data: dict[str, Any] = json.loads((out / "data.json").read_text())
    return data


def _absolute_judge(store: Store, models: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The absolute judge rates every answer through a scripted endpoint (Fail, Pass, Excellent in turn)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    judge = make_judge("absolute", judge_model="fake-judge")

    def responder(body: dict[str, Any]) -> Completion:
        match = re.search(r"Question (\d+)", last_user_message(body))  # populate's prompts are numbered
        rating = ["Fail", "Pass", "Excellent"][int(match.group(1)) % 3 if match else 0]
        return Completion(f"reasons\n{rating}")

    with FakeOpenAIServer(responder) as server:
        for model in models:
            judge_single(store, judge, store.model_id(model), options=RunOptions(base_url=server.base_url, concurrency=2))


@pytest.fixture()
def rated(store: Store, monkeypatch: pytest.MonkeyPatch) -> Rated:
    data = populate(store, runs=1, epochs=2, prompts=5, with_decisions=False)
    models = [data.checkpoints[-1], data.baselines[0]]
    batch, _ = rt.create_rating_batch(store, "abs", [store.model_id(m) for m in models], "bench", per_item=2, limit=3)
    _absolute_judge(store, models, monkeypatch)
    order = rt.rating_items(store, batch).sort_values("position")["id"].tolist()
    for annotator, labels in HUMAN_RATINGS.items():
        for item, label in zip(order, labels):
            assert rt.add_rating(store, annotator, int(item), label, source="test")
    return store, batch, models


def test_the_ratings_view_shows_the_leaderboards_figure3_shares_as_printed(rated: Rated, db_url: str, tmp_path: Path) -> None:
    store, batch, models = rated
    data = _report(db_url, tmp_path / "report")
    figure = figure3(store, batch)
    (section,) = data["ratings"]
    assert (section["batch"], section["prompt_set"], section["n_items"], section["n_labels"]) == ("abs", "bench", 6, 12)
    expected = natural_sorted(figure.shares, ["model", "source"]).to_dict(orient="records")
    assert {row["source"] for row in section["shares"]} == {"humans", "absolute:fake-judge"}
    assert [(row["model"], row["source"], row["n"]) for row in section["shares"]] == [
        (row["model"], row["source"], row["n"]) for row in expected
    ]
    for shown, raw in zip(section["shares"], expected):
        for rating in RATING_ORDER:
            assert shown[rating] == pytest.approx(raw[rating], abs=1e-12)
            assert shown["shown"][rating] == format_figure(100 * raw[rating], 1)
    raters, annotators = section["agreement"]
    for row, raw in zip(raters["rows"], figure.agreement.to_dict(orient="records")):
        assert row["raters"] == raw["raters"] and row["n"] == str(raw["n"])
        assert (row["agreement"], row["cohen_kappa"]) == (
            format_figure(raw["agreement"], 3),
            format_figure(raw["cohen_kappa"], 3),
        )
    assert {row["annotator"]: row["agreement_with_others"] for row in annotators["rows"]} == {
        name: format_figure(value, 3) for name, value in figure.annotators.items()
    }
    # a report of the run alone keeps its checkpoint's shares and leaves out the batch-wide agreement
    (scoped,) = _report(db_url, tmp_path / "run", "--run", "run-0")["ratings"]
    assert {row["model"] for row in scoped["shares"]} == {models[0]} and scoped["agreement"] == []


def test_a_rated_prompt_carries_each_annotators_rating_of_each_answer(rated: Rated, db_url: str, tmp_path: Path) -> None:
    store, batch, models = rated
    data = _report(db_url, tmp_path / "report")
    views = {prompt["hash"]: prompt for prompt in data["prompts"]}
    humans = rt.ratings(store, batch)
    assert len(humans) == 12
    for row in humans.itertuples(index=False):
        (answer,) = [a for a in views[row.prompt_hash]["ratings"] if a["answer"] == int(row.generation_id)]
        assert answer["model"] == row.model and answer["batch"] == "abs"
        assert {"annotator": row.annotator, "label": row.label} in answer["ratings"]
        assert data["answers"][str(answer["answer"])]
        assert set(answer) == {"model", "answer", "batch", "ratings"}  # nothing else: no source, no invitation
    rated_prompts = [p for p in data["prompts"] if p["ratings"]]
    assert len(rated_prompts) == 3 and all({a["model"] for a in p["ratings"]} == set(models) for p in rated_prompts)


def test_a_store_without_ratings_has_no_ratings_view(store: Store, db_url: str, tmp_path: Path) -> None:
    populate(store, runs=1, epochs=2, prompts=5, with_decisions=False)
    out = tmp_path / "report"
    data = _report(db_url, out)
    assert data["ratings"] == [] and data["prompts"] and all(prompt["ratings"] == [] for prompt in data["prompts"])
    # the page's link to the view stays hidden until the data holds a batch
    assert re.search(r'<a href="#ratings"[^>]* hidden>', (out / "index.html").read_text())


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(browser_missing_reason() is not None, reason=browser_missing_reason() or "")
def test_the_page_shows_the_ratings_view_and_a_rated_prompts_ratings(rated: Rated, db_url: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    out = tmp_path / "report"
    data = _report(db_url, out)
    page = (out / "index.html").resolve().as_uri()
    driver = chrome(1300, 1000)

    def text_when(wanted: str) -> str:
        WebDriverWait(driver, 15).until(lambda d: wanted in d.find_element(By.ID, "view").text)
        return str(driver.find_element(By.ID, "view").text)

    try:
        driver.get(page)
        text_when("Leaderboard")
        assert driver.find_element(By.ID, "ratings-link").is_displayed()  # the store holds ratings
        driver.get(f"{page}#ratings")
        text = text_when("Ratings")
        for row in data["ratings"][0]["shares"]:
            assert f"{row['source']} {row['shown']['fail']} {row['shown']['pass']} {row['shown']['excellent']} {row['n']}" in text
        prompt = next(p for p in data["prompts"] if p["ratings"])
        driver.get(f"{page}#prompt={prompt['hash']}")
        text = text_when("rated in abs")
        for answer in prompt["ratings"]:
            for rating in answer["ratings"]:
                assert f"{rating['annotator']} {rating['label'].capitalize()}" in text
    finally:
        driver.quit()
