"""The demo's report opened from file:// in headless chromium with the network switched off: the
leaderboard table shows the command line's win-rate strings, a #checkpoint= link opens that
checkpoint's run with its figures and the pick, a #prompt= link shows the question and both answers,
and every resource the page loaded is a file beside it. Screenshots go to test-artifacts/report/."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.leaderboard_browser import browser_missing_reason, chrome
from tests.report.conftest import DemoReport

MISSING = browser_missing_reason()
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"


def _body_when(driver: Any, wanted: str, timeout: float = 15) -> str:
    """The page's text once it holds `wanted` (the script draws the view after the hash changes)."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = str(driver.find_element(By.ID, "view").text)
        if wanted in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{wanted!r} not on {driver.current_url}; the page shows: {text[:500]}")


def test_the_report_opens_offline_from_disk_with_its_deep_links(demo_report: DemoReport) -> None:
    from selenium.webdriver.common.by import By

    data = json.loads((demo_report.out / "data.json").read_text())
    page = (demo_report.out / "index.html").resolve().as_uri()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver = chrome(1300, 1000)
    try:
        # offline: a page that reached for the network would fail to load what it fetched
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0}
        )
        driver.get(page)
        _body_when(driver, "Leaderboard")
        (table,) = data["leaderboard"]["comparisons"]
        cells = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#view table")[0].find_elements(By.TAG_NAME, "td")]
        for row in table["rows"]:
            assert row["shown"]["win_rate"] in cells and row["model"] in cells
        driver.save_screenshot(str(ARTIFACTS / "leaderboard.png"))

        picked = data["checkpoints"][0]["decision"]["chosen"]
        model = next(m["name"] for m in data["models"] if m["name"].endswith(picked))
        driver.get(f"{page}#checkpoint={quote(model)}")
        text = _body_when(driver, f"Checkpoint {model}")
        point = next(p for p in data["checkpoints"][0]["series"][0]["points"] if p["model"] == model)
        decision = data["checkpoints"][0]["decision"]
        assert point["shown"] in text and decision["reason"] in text
        assert ("Took (tied)" if decision["decided"] is False else "Picked") in text
        assert driver.find_elements(By.CSS_SELECTOR, "#view svg circle")  # the plots are drawn
        driver.save_screenshot(str(ARTIFACTS / "checkpoint.png"))

        prompt = data["prompts"][0]
        comparison = prompt["comparisons"][0]
        driver.get(f"{page}#prompt={prompt['hash']}")
        text = _body_when(driver, "Prompt")
        flat = " ".join(text.split())
        for answer in (comparison["answer"], comparison["baseline_answer"]):
            assert " ".join(data["answers"][str(answer)].split())[:60] in flat
        assert prompt["instruction"].splitlines()[0] in text and f"{comparison['model']} vs {comparison['baseline']}" in text
        driver.save_screenshot(str(ARTIFACTS / "prompt.png"))

        # every address on the page (scripts, style, links) resolves to a file here; a fetch the network
        # refused would have logged a SEVERE error (net::ERR_INTERNET_DISCONNECTED)
        addresses = driver.execute_script(
            "return Array.from(document.querySelectorAll('[src],[href]')).map(e => e.src || e.href)"
        )
        assert addresses and all(str(address).startswith("file://") for address in addresses), addresses
        errors = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
        assert errors == [], errors
    finally:
        driver.quit()
