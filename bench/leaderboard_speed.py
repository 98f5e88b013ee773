"""How fast each leaderboard page renders in headless chromium on a large store.

    python bench/leaderboard_speed.py --db sqlite:///bench.db     # builds 100 checkpoints x 805 prompts if empty

Measures, with `evalkit leaderboard` serving the store on a loopback port:
- read: the three judge tables read the plain way (one pandas join per judge kind, the obvious
  implementation; tests/results/test_results_reading.py checks both give the same rows) vs evalkit's reader
  (evalkit/results/reading.py), in this process; then the snapshot's summaries (from the database's tallies);
- start: `evalkit leaderboard` from launch until it answers, on a store it has never seen (it builds
  the snapshot's summaries before serving) and again with the snapshot it saved;
- first views: each page in a new browser (no cached JavaScript), right after the first start,
  while the row figures (LC win rates, judge bias) are still computed in the background;
- warm: each page in a new browser, and in one browser (a user following links), median of 3;
- memory: resident memory of the server process and of its worker process (which builds the snapshot
  and computes the row figures), now and at their peak (VmHWM), after the first views and after the
  warm views, and the worker's peak watched throughout (it exits once its jobs are done).
Ratios are against the plain read. Needs Debian's chromium + chromedriver and selenium. First views
should take < 5 s, later views < 2 s, the server < 2 GB (issue 26 at 5M judgments).

    python bench/leaderboard_speed.py --db postgresql+psycopg://... --scale 10x --skip-read

`--scale 10x` builds 1,000 checkpoints x 833 prompts (5.0M judgments; COPY on PostgreSQL) when the
store is empty. What the snapshot's build costs, against reading every judgment into pandas, is
bench/snapshot_build.py's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.leaderboard_data import add_scale_options, populate, shape, simulate_annotators  # noqa: E402
from tests.leaderboard_browser import browser_missing_reason, chrome, open_page, serve  # noqa: E402

PAGES = ("", "checkpoints", "compare", "annotate", "agreement")
FIRST_VIEW_LIMIT_S = 5.0
WARM_LIMIT_S = 2.0
MEMORY_LIMIT_MIB = 2048


def _read_seconds(url: str) -> tuple[float, float, float]:
    """(plain read, evalkit read, whole snapshot) in seconds."""
    from evalkit.leaderboard.snapshot_build import build_snapshot
    from evalkit.leaderboard.store_access import results_token
    from evalkit.results.tables import read_tables
    from evalkit.store import Store
    from tests.results.test_results_reading import plain_alpaca, plain_likert, plain_pairwise

    store = Store(url)
    start = time.perf_counter()
    plain_pairwise(store, "pairwise"), plain_alpaca(store, "alpaca_eval"), plain_likert(store, "likert")
    plain = time.perf_counter() - start
    start = time.perf_counter()
    read_tables(store)
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
                    if fresh_browser and driver is not None:
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


def _line(label: str, pages: dict[str, float], limit: float = WARM_LIMIT_S) -> str:
    worst = max(pages.values())
    return (
        f"{label:34s} "
        + "  ".join(f"{page} {seconds:.2f}" for page, seconds in pages.items())
        + f"  | worst {worst:.2f} s {'OK' if worst < limit else 'SLOW'} (< {limit:g} s)"
    )


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process this user can see."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            found[int(entry.name)] = (parent, command)
    return found


def _rss_mib(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) in MiB, from /proc/PID/status."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _server_and_workers(base: str) -> tuple[int | None, list[int]]:
    """The server process serving `base` (its port is on its command line) and its worker processes."""
    port = base.rsplit(":", 1)[1]
    processes = _processes()
    servers = [pid for pid, (_, command) in processes.items() if "evalkit.leaderboard.server" in command and port in command]
    if not servers:
        return None, []
    workers = [pid for pid, (parent, command) in processes.items() if parent == servers[0] and "spawn_main" in command]
    return servers[0], workers


class WorkerPeaks:
    """The peak resident memory of every worker process the server starts, watched every 0.2 s: a worker
    exits once its jobs are done, taking its own peak (VmHWM) with it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for worker in _server_and_workers(self.base)[1]:
                with contextlib.suppress(OSError, KeyError):
                    self.peaks[worker] = max(self.peaks.get(worker, 0.0), _rss_mib(worker)[1])

    def line(self) -> str:
        return "worker processes' peaks so far: " + (
            ", ".join(f"{peak:.0f} MiB" for peak in self.peaks.values()) if self.peaks else "none seen"
        )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _memory_line(base: str) -> str:
    """Resident memory of the server process serving `base` and of its worker process, now and at peak."""
    server, workers = _server_and_workers(base)
    if server is None:
        return "memory: server process not found"
    now, peak = _rss_mib(server)
    line = f"memory: server {now:.0f} MiB (peak {peak:.0f} MiB) {'OK' if peak < MEMORY_LIMIT_MIB else 'OVER'} (< 2 GiB)"
    for worker in workers:
        with contextlib.suppress(OSError, KeyError):
            w_now, w_peak = _rss_mib(worker)
            line += f"; worker process {w_now:.0f} MiB (peak {w_peak:.0f} MiB)"
    return line


def _wait_for_row_figures(base: str, timeout: float = 900) -> float:
    """Reload the leaderboard until the background row figures (LC win rates, judge bias) are in."""
    from selenium.webdriver.common.by import By

    driver = chrome()
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < timeout:
            open_page(driver, f"{base}/", timeout=300)
            if "being computed" not in driver.find_element(By.TAG_NAME, "body").text:
                return time.perf_counter() - start
            time.sleep(5)
        raise TimeoutError("the row figures did not finish")
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    add_scale_options(parser)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-read", action="store_true", help="no in-process read of every judgment before the pages")
    args = parser.parse_args()
    runs, epochs, prompts = shape(args)
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
        print(f"building the store ({runs * epochs} checkpoints x {prompts} prompts)...", flush=True)
        data = populate(store, runs, epochs, prompts, bulk=args.scale == "10x")
        simulate_annotators(store, data.checkpoints[min(6, len(data.checkpoints) - 1)], data.baselines[0], 100)
    with store.engine.connect() as conn:
        counts = {
            name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in (("models", t.models), ("generations", t.generations), ("judgments", t.judgments))
        }
    print(f"store: {counts}", flush=True)
    if not args.skip_read:
        plain, fast, built = _read_seconds(args.db)
        print(
            f"read the judge tables: plain pandas joins {plain:.2f} s, evalkit {fast:.2f} s  ({plain / fast:.1f}x faster); "
            f"snapshot summaries (database tallies) {built:.2f} s",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EVALKIT_CACHE_DIR"] = cache
        with _timed_serve(args.db) as (base, started):
            peaks = WorkerPeaks(base)  # the worker that built the snapshot computes the row figures next: its VmHWM covers both
            print(f"server start, store never seen (reads it before serving): {started:.2f} s", flush=True)
            print(_line("first views (new browser each)", _page_times(base, True), FIRST_VIEW_LIMIT_S), flush=True)
            print(_memory_line(base), flush=True)
            lc = _wait_for_row_figures(base)
            print(f"row figures (LC, judge bias) in after a further {lc:.1f} s (background process)", flush=True)
            print(peaks.line(), flush=True)
            print(_line("warm, new browser each (median)", _page_times(base, True, args.repeats)), flush=True)
            print(_line("warm, one browser (median)", _page_times(base, False, args.repeats)), flush=True)
            print(_memory_line(base), flush=True)
            peaks.stop()
        with _timed_serve(args.db) as (base, started):
            print(f"server restart, snapshot saved: {started:.2f} s", flush=True)
            print(_line("first views after restart", _page_times(base, True), FIRST_VIEW_LIMIT_S), flush=True)
            print(_memory_line(base), flush=True)


if __name__ == "__main__":
    main()
