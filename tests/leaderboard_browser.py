"""Helpers for driving `evalkit leaderboard` in headless Debian chromium (selenium + chromedriver).

Shared by the end-to-end test and bench/leaderboard_speed.py, so the speed figures are measured
exactly the way the test checks the pages.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_CANDIDATES = ("chromedriver",)


def browser_missing_reason() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not any(shutil.which(name) for name in CHROMIUM_CANDIDATES):
        return "chromium is not installed (apt-get install chromium chromium-driver)"
    if not any(shutil.which(name) for name in DRIVER_CANDIDATES):
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(db_url: str, port: int | None = None, startup_timeout: float = 60, log_path: Path | None = None) -> Iterator[str]:
    """Run `evalkit leaderboard` on a free loopback port; yields the base URL; stops the whole group.
    The server's output goes to `log_path` when given (tests read it for secrets), else nowhere."""
    port = port or free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("EVALKIT_DB", None)  # the command must pass --db on to the app itself
    log = open(log_path or os.devnull, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "evalkit", "leaderboard", "--db", db_url, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"evalkit leaderboard exited with {process.returncode}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"evalkit leaderboard did not answer on {base} within {startup_timeout}s")
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def chrome(width: int = 1500, height: int = 1100):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    binary = next(shutil.which(name) for name in CHROMIUM_CANDIDATES if shutil.which(name))
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    driver_path = next(shutil.which(name) for name in DRIVER_CANDIDATES if shutil.which(name))
    return webdriver.Chrome(service=Service(driver_path), options=options)


def wait_rendered(driver, timeout: float = 30) -> float:  # type: ignore[no-untyped-def]
    """Seconds until the page's footer ("Rendered in ...") is in the DOM and the app is idle."""
    from selenium.webdriver.common.by import By

    start = time.perf_counter()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        footers = driver.find_elements(By.XPATH, "//*[@data-testid='stCaptionContainer'][contains(., 'Rendered in')]")
        running = driver.find_elements(
            By.CSS_SELECTOR, "[data-testid='stStatusWidget'] [data-testid='stStatusWidgetRunningIcon']"
        )
        if footers and not running:
            return time.perf_counter() - start
        time.sleep(0.05)
    raise TimeoutError(f"page {driver.current_url} did not finish rendering within {timeout}s")


def open_page(driver, url: str, timeout: float = 30) -> float:  # type: ignore[no-untyped-def]
    """Load a page from scratch (new session, as a user opening a link) and return its render time."""
    start = time.perf_counter()
    driver.get(url)
    wait_rendered(driver, timeout)
    return time.perf_counter() - start


def screenshot(driver, path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Full-page screenshot: the window is stretched to the app's scroll height first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script(
        "const main = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
        "return Math.max(main.scrollHeight, document.body.scrollHeight);"
    )
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(max(int(height) + 120, 800), 6000))
    time.sleep(0.8)  # let canvas-drawn elements (data grids, charts) redraw at the new size
    driver.save_screenshot(str(path))
    return path
