"""End to end: `evalkit leaderboard` on a free loopback port, every page opened in headless Debian
chromium, key content found in the DOM, a PNG export downloaded, the Annotate page opened without a
link, with a wrong one, a revoked one and a valid one (`evalkit annotate invite`'s last line), and an
annotation clicked and found in the store under the invited name; the server's log never holds a token. Screenshots are kept under test-artifacts/leaderboard/ for people to look at."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from bench.leaderboard_data import populate, simulate_annotators
from evalkit.leaderboard.annotator_session import NEEDS_LINK
from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store import ratings as rt
from evalkit.store import schema as t
from tests.leaderboard_browser import browser_missing_reason, chrome, open_page, screenshot, serve, wait_rendered

MISSING = browser_missing_reason()
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "leaderboard"


def _body(driver) -> str:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def _click_button(driver, label: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    xpath = f"//button[contains(normalize-space(.), {label!r})]"
    _wait_for(lambda: driver.find_elements(By.XPATH, xpath), what=f"the {label!r} button")
    driver.find_element(By.XPATH, xpath).click()


def _buttons(driver, label: str) -> list:  # type: ignore[no-untyped-def,type-arg]
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.XPATH, f"//button[contains(normalize-space(.), {label!r})]")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "EVALKIT_DB"}
    return subprocess.run(
        [sys.executable, "-m", "evalkit", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _invite(db: str, batch: str, who: str, base: str) -> str:
    """The contract: `evalkit annotate invite` prints the link on the last line of stdout."""
    done = _cli("annotate", "invite", "--batch", batch, "--annotator", who, "--db", db, "--base-url", base)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


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
    open_batch, _ = ann.create_batch(
        store, "open", store.model_id(data.checkpoints[3]), store.model_id(data.baselines[1]), "bench", per_item=2, limit=4
    )
    simulate_annotators(store, data.checkpoints[4], data.baselines[0], items=6)
    rated, _ = rt.create_rating_batch(store, "rated", [store.model_id(m) for m in data.checkpoints[-2:]], "bench", 2, limit=3)
    for annotator, labels in (("ann", "fail pass excellent pass pass fail"), ("bob", "pass pass excellent fail pass fail")):
        for label in labels.split():
            rt.add_rating(store, annotator, rt.next_rating_item(store, rated, annotator).item_id, label, source="test")
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    server_log = tmp_path / "server.log"
    with serve(url, log_path=server_log) as base:
        driver = chrome()
        try:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
            timings: dict[str, float] = {}

            timings["leaderboard"] = open_page(driver, f"{base}/", timeout=120)  # includes the server warming up
            text = _body(driver)
            for name in [*data.checkpoints, *data.baselines]:
                assert name in text  # the contract: a page load shows every model in the store
            assert "Win / tie / loss against the baseline" in text
            _wait_for(
                lambda: driver.find_elements(
                    By.CSS_SELECTOR, "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg"
                ),
                what="the preference chart",
            )
            _click_button(driver, "Download PNG")
            _wait_for(lambda: any(p.suffix == ".png" for p in downloads.iterdir()), what="the PNG export")
            png = next(p for p in downloads.iterdir() if p.suffix == ".png")
            _wait_for(lambda: png.stat().st_size > 1000, what="the PNG to be written")
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            screenshot(driver, ARTIFACTS / "leaderboard.png")

            for page, expected in (
                ("checkpoints", ["Decision", "Picked checkpoint", "selection window"]),
                ("compare", ["Question:", "Judgments", "Order flips"]),
                ("agreement", ["Agreement between raters", "Each rater against the mode", "position consistency"]),
                ("ratings", ["LIMA Figure 3", "Rating batch", "Agreement"]),
            ):
                driver.set_window_size(1500, 1100)
                timings[page] = open_page(driver, f"{base}/{page}", timeout=60)
                for snippet in expected:  # parts of a page may arrive a moment after its footer on a busy machine
                    _wait_for(lambda snippet=snippet: snippet in _body(driver), what=f"{page}: {snippet!r} on the page")
                screenshot(driver, ARTIFACTS / f"{page}.png")

            driver.set_window_size(1500, 1100)
            link = _invite(url, "open", "eve", base)
            assert link.startswith(f"{base}/annotate?") and "token=" in link
            revoked = _invite(url, "open", "mallory", base)
            assert _cli("annotate", "revoke", "--batch", "open", "--annotator", "mallory", "--db", url).returncode == 0
            token = parse_qs(urlparse(link).query)["token"][0]
            questions = set(
                store.frame(
                    select(t.prompts.c.instruction)
                    .join(t.annotation_items, t.annotation_items.c.prompt_hash == t.prompts.c.hash)
                    .where(t.annotation_items.c.batch_id == open_batch)
                )["instruction"]
            )
            for case, address in (
                ("no token", f"{base}/annotate"),
                ("wrong token", link.replace(token, token[::-1])),
                ("revoked", revoked),
            ):
                open_page(driver, address, timeout=60)
                _wait_for(lambda: NEEDS_LINK in _body(driver), what=f"{case}: the link notice")
                text = _body(driver)
                assert not any(q in text for q in questions), case  # none of the batch's question text
                assert "Answer A" not in text and "You labelled" not in text and not _buttons(driver, "significantly"), case
            screenshot(driver, ARTIFACTS / "annotate-no-link.png")

            timings["annotate"] = open_page(driver, link, timeout=60)
            _wait_for(lambda: "Answer B is significantly better." in _body(driver), what="the annotation screen")
            wait_rendered(driver)
            text = _body(driver)
            first = ann.next_item(store, open_batch, "eve").instruction
            assert first in text and "Answer A" in text and "Annotating as eve" in text
            assert data.checkpoints[3] not in text and token not in driver.page_source  # blind; the token is not echoed
            screenshot(driver, ARTIFACTS / "annotate.png")
            _click_button(driver, "Answer B is significantly better.")
            _wait_for(lambda: len(ann.labels(store, open_batch)) == 1, what="the label in the store")
            label = ann.labels(store, open_batch).iloc[0]
            assert (label["annotator"], label["label"]) == ("eve", "B")
            _wait_for(lambda: "You labelled 1;" in _body(driver), what="the progress bar to advance")
            print("page load seconds:", {page: round(seconds, 2) for page, seconds in timings.items()})
        finally:
            driver.quit()
    logged = server_log.read_text(errors="replace")
    assert token not in logged and parse_qs(urlparse(revoked).query)["token"][0] not in logged
