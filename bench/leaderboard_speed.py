"""How fast each leaderboard page renders in headless chromium on a large store.

    python bench/leaderboard_speed.py --db sqlite:///bench.db     # builds 100 checkpoints x 805 prompts if empty

Measures, with `evalkit leaderboard` serving the store on a loopback port:
- read: the three judge tables read the plain way (one pandas join per judge kind, the obvious
  implementation; tests/results/test_results_reading.py checks both give the same rows) vs evalkit's reader
  (evalkit/results/reading.py), in this process; then the whole snapshot (read + every summary);
- start: `evalkit leaderboard` from launch until it answers, on a store it has never seen (it reads
  the store before serving) and again with the snapshot it saved;
- first views: each page in a new browser (no cached JavaScript), right after the first start,
  while length-controlled win rates are still computed in the background;
- warm: each page in a new browser, and in one browser (a user following links), median of 3.
Ratios are against the plain read. Needs Debian's chromium + chromedriver and selenium.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.leaderboard_data import populate, simulate_annotators  # noqa: E402
from tests.leaderboard_browser import browser_missing_reason, chrome, open_page, serve  # noqa: E402

PAGES = ("", "checkpoints", "compare", "annotate", "agreement")


def _read_seconds(url: str) -> tuple[float, float, float]:
    """(plain read, evalkit read, whole snapshot) in seconds."""
    from evalkit.leaderboard.snapshot import build_snapshot
    from evalkit.leaderboard.store_access import results_token
    from evalkit.results.tables import tables
    from evalkit.store import Store
    from tests.results.test_results_reading import plain_alpaca, plain_likert, plain_pairwise

    store = Store(url)
    start = time.perf_counter()
    plain_pairwise(store, "pairwise"), plain_alpaca(store, "alpaca_eval"), plain_likert(store, "likert")
    plain = time.perf_counter() - start
    start = time.perf_counter()
    tables(store)
    fast = time.perf_counter() - start
    start = time.perf_counter()
    build_snapshot(store, results_token(store))
    return plain, fast, time.perf_counter() - start


def _page_times(base: str, fresh_browser: bool, repeats: int = 1) -> dict[str, float]:
    """Median seconds per page: each load in a new browser, or all in one browser."""
    seconds: dict[str, list[float]] = {page or "leaderboard": [] for page in PAGES}
    shared = None if fresh_browser else chrome()
    try:
        for _ in range(repeats):
            for page in PAGES:
                driver = chrome() if fresh_browser else shared
                try:
                    seconds[page or "leaderboard"].append(open_page(driver, f"{base}/{page}", timeout=300))
                finally:
                    if fresh_browser:
                        driver.quit()
    finally:
        if shared is not None:
            shared.quit()
    return {page: statistics.median(values) for page, values in seconds.items()}


@contextmanager
def _timed_serve(url: str) -> Iterator[tuple[str, float]]:
    start = time.perf_counter()
    with serve(url, startup_timeout=600) as base:
        yield base, time.perf_counter() - start


def _line(label: str, pages: dict[str, float]) -> str:
    worst = max(pages.values())
    return (
        f"{label:34s} "
        + "  ".join(f"{page} {seconds:.2f}" for page, seconds in pages.items())
        + f"  | worst {worst:.2f} s {'OK' if worst < 3 else 'SLOW'} (< 3 s)"
    )


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
        counts = {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in (("models", t.models), ("generations", t.generations), ("judgments", t.judgments))
        }
    print(f"store: {counts}", flush=True)

    plain, fast, built = _read_seconds(args.db)
    print(
        f"read the judge tables: plain pandas joins {plain:.2f} s, evalkit {fast:.2f} s  ({plain / fast:.1f}x faster); "
        f"whole snapshot (read + summaries) {built:.2f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EVALKIT_CACHE_DIR"] = cache
        with _timed_serve(args.db) as (base, started):
            print(f"server start, store never seen (reads it before serving): {started:.2f} s", flush=True)
            print(_line("first views (new browser each)", _page_times(base, fresh_browser=True)), flush=True)
            lc = _wait_for_lc(base)
            print(f"length-controlled win rates in after a further {lc:.1f} s (background process)", flush=True)
            print(_line("warm, new browser each (median)", _page_times(base, True, args.repeats)), flush=True)
            print(_line("warm, one browser (median)", _page_times(base, False, args.repeats)), flush=True)
        with _timed_serve(args.db) as (base, started):
            print(f"server restart, snapshot saved: {started:.2f} s", flush=True)
            print(_line("first views after restart", _page_times(base, fresh_browser=True)), flush=True)


if __name__ == "__main__":
    main()
