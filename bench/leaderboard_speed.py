"""How fast each leaderboard page renders in headless chromium on a large store.

    python bench/leaderboard_speed.py --db sqlite:///bench.db     # builds 100 checkpoints x 805 prompts if empty

Measures, with `evalkit leaderboard` serving the store on a loopback port:
- baseline: reading and summarising the judge tables directly (what every page view would cost
  without the snapshot cache), in this process;
- cold: the first page view of a fresh server with no saved snapshot (it waits for the build);
- warm: every page opened from scratch (new page load, as a user following a link), median of 3;
- restart: the first view after restarting the server with the saved snapshot on disk, in a new
  browser (so it includes chromium loading the app's JavaScript), then each other page once.
Ratios are against the baseline. Needs Debian's chromium + chromedriver and selenium.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.leaderboard_data import populate, simulate_annotators  # noqa: E402
from tests.leaderboard_browser import browser_missing_reason, chrome, open_page, serve  # noqa: E402

PAGES = ("", "checkpoints", "compare", "annotate", "agreement")


def _baseline_seconds(url: str) -> float:
    from evalkit.leaderboard.snapshot import build_snapshot
    from evalkit.leaderboard.store_access import results_token
    from evalkit.store import Store

    store = Store(url)
    start = time.perf_counter()
    build_snapshot(store, results_token(store))
    return time.perf_counter() - start


def _pages(base: str, repeats: int) -> dict[str, float]:
    driver = chrome()
    try:
        seconds: dict[str, list[float]] = {page or "leaderboard": [] for page in PAGES}
        for _ in range(repeats):
            for page in PAGES:
                seconds[page or "leaderboard"].append(open_page(driver, f"{base}/{page}", timeout=300))
        return {page: statistics.median(values) for page, values in seconds.items()}
    finally:
        driver.quit()


def _wait_for_lc(base: str, timeout: float = 900) -> float:
    """Reload the leaderboard until the background length-controlled win rates are in."""
    from selenium.webdriver.common.by import By

    driver = chrome()
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < timeout:
            open_page(driver, f"{base}/", timeout=300)
            if "being computed" not in driver.find_element(By.TAG_NAME, "body").text:
                return time.perf_counter() - start
            time.sleep(5)
        raise TimeoutError("length-controlled win rates did not finish")
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--prompts", type=int, default=805)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    # Stopped by a supervisor: unwind, so the server and the browser this run started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    missing = browser_missing_reason()
    if missing:
        sys.exit(f"leaderboard_speed: {missing}")

    from sqlalchemy import func, select

    from evalkit.store import Store
    from evalkit.store import schema as t

    store = Store(args.db)
    with store.engine.connect() as conn:
        judged = conn.execute(select(func.count()).select_from(t.judgments)).scalar_one()
    if not judged:
        print(f"building the store ({args.runs * args.epochs} checkpoints x {args.prompts} prompts)...", flush=True)
        data = populate(store, args.runs, args.epochs, args.prompts)
        simulate_annotators(store, data.checkpoints[min(6, len(data.checkpoints) - 1)], data.baselines[0], 100)
    with store.engine.connect() as conn:
        counts = {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                  for name, table in (("models", t.models), ("generations", t.generations), ("judgments", t.judgments))}
    print(f"store: {counts}", flush=True)

    baseline = _baseline_seconds(args.db)
    print(f"baseline (read + summarise the judge tables, no cache): {baseline:.2f} s", flush=True)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EVALKIT_CACHE_DIR"] = cache
        with serve(args.db, startup_timeout=120) as base:
            driver = chrome()
            try:
                cold = open_page(driver, f"{base}/", timeout=600)
            finally:
                driver.quit()
            print(f"cold first view (server start, no snapshot): {cold:.2f} s  ratio {cold / baseline:.2f}", flush=True)
            lc = _wait_for_lc(base)
            print(f"length-controlled win rates in after a further {lc:.1f} s (background)", flush=True)
            warm = _pages(base, args.repeats)
        for page, seconds in warm.items():
            print(f"warm {page:12s} {seconds:6.2f} s  ratio {seconds / baseline:.3f}  {'OK' if seconds < 3 else 'SLOW'} (< 3 s)")
        with serve(args.db, startup_timeout=120) as base:
            driver = chrome()
            try:
                restart = open_page(driver, f"{base}/", timeout=600)
                after = {page or "leaderboard": open_page(driver, f"{base}/{page}", timeout=600) for page in PAGES[1:]}
            finally:
                driver.quit()
        print(f"restart, snapshot on disk, new browser: first view {restart:.2f} s  ratio {restart / baseline:.3f}; then "
              + ", ".join(f"{page} {seconds:.2f} s" for page, seconds in after.items()), flush=True)


if __name__ == "__main__":
    main()
