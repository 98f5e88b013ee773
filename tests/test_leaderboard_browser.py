"""End to end: `evalkit leaderboard` on a free loopback port, every page opened in headless Debian
chromium, key content found in the DOM, a PNG export downloaded, and an annotation clicked and found
in the store. Screenshots are kept under test-artifacts/leaderboard/ for people to look at."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.leaderboard_data import populate, simulate_annotators
from evalkit.store import Store
from evalkit.store import annotations as ann
from tests.leaderboard_browser import browser_missing_reason, chrome, open_page, screenshot, serve, wait_rendered

MISSING = browser_missing_reason()
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "leaderboard"


def _body(driver) -> str:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def _click_button(driver, label: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    xpath = f"//button[contains(normalize-space(.), {label!r})]"
    _wait_for(lambda: driver.find_elements(By.XPATH, xpath), what=f"the {label!r} button")
    driver.find_element(By.XPATH, xpath).click()


def _wait_for(condition, timeout: float = 30, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_page_in_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.webdriver.common.by import By

    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store(url)
    data = populate(store, runs=1, epochs=6, prompts=10)
    open_batch, _ = ann.create_batch(store, "open", store.model_id(data.checkpoints[3]), store.model_id(data.baselines[1]),
                                     "bench", per_item=2, limit=4)
    simulate_annotators(store, data.checkpoints[4], data.baselines[0], items=6)
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    with serve(url) as base:
        driver = chrome()
        try:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
            timings: dict[str, float] = {}

            timings["leaderboard"] = open_page(driver, f"{base}/", timeout=120)  # includes the server warming up
            text = _body(driver)
            for name in [*data.checkpoints, *data.baselines]:
                assert name in text  # the contract: a page load shows every model in the store
            assert "Win / tie / loss against the baseline" in text
            _wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid='stVegaLiteChart'] canvas, "
                                                                   "[data-testid='stVegaLiteChart'] svg"),
                      what="the preference chart")
            _click_button(driver, "Download PNG")
            _wait_for(lambda: any(p.suffix == ".png" for p in downloads.iterdir()), what="the PNG export")
            png = next(p for p in downloads.iterdir() if p.suffix == ".png")
            _wait_for(lambda: png.stat().st_size > 1000, what="the PNG to be written")
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            screenshot(driver, ARTIFACTS / "leaderboard.png")

            for page, expected in (("checkpoints", ["Decision", "Picked checkpoint", "selection window"]),
                                   ("compare", ["Question:", "Judgments", "Order flips"]),
                                   ("agreement", ["Agreement between raters", "Each rater against the mode", "position consistency"])):
                driver.set_window_size(1500, 1100)
                timings[page] = open_page(driver, f"{base}/{page}", timeout=60)
                for snippet in expected:  # parts of a page may arrive a moment after its footer on a busy machine
                    _wait_for(lambda: snippet in _body(driver), what=f"{page}: {snippet!r} on the page")
                screenshot(driver, ARTIFACTS / f"{page}.png")

            driver.set_window_size(1500, 1100)
            timings["annotate"] = open_page(driver, f"{base}/annotate", timeout=60)
            name_box = "input[aria-label='Annotator name']"
            _wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, name_box), what="the annotator name box")
            driver.find_element(By.CSS_SELECTOR, name_box).send_keys("eve")
            _click_button(driver, "Start annotating")
            _wait_for(lambda: "Answer B is significantly better." in _body(driver), what="the annotation screen")
            wait_rendered(driver)
            text = _body(driver)
            assert "Answer A" in text and "Question:" in text and data.checkpoints[3] not in text  # blind
            screenshot(driver, ARTIFACTS / "annotate.png")
            _click_button(driver, "Answer B is significantly better.")
            _wait_for(lambda: len(ann.labels(store, open_batch)) == 1, what="the label in the store")
            label = ann.labels(store, open_batch).iloc[0]
            assert (label["annotator"], label["label"]) == ("eve", "B")
            _wait_for(lambda: "You labelled 1;" in _body(driver), what="the progress bar to advance")
            print("page load seconds:", {page: round(seconds, 2) for page, seconds in timings.items()})
        finally:
            driver.quit()
