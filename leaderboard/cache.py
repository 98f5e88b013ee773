"""Stale-while-revalidate for snapshots: a page always gets the newest snapshot already built, and a
changed store is re-read in the background. So a running judge job, which changes the store
every few seconds, never makes a page wait for a reload (seconds on a large store); the page says
it shows older data.

`evalkit leaderboard` prepares the snapshot before its server accepts connections (server.py), so no
page view waits for a build; only pages run without that server (tests, `streamlit run` by hand)
build on their first view.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import sha256_text
from evalkit.leaderboard import snapshot as snap
from evalkit.leaderboard import snapshot_build as build
from evalkit.leaderboard.row_figures import row_figures_at
from evalkit.leaderboard.store_access import results_token
from evalkit.leaderboard.tally_files import tallies_directory
from evalkit.leaderboard.worker import Worker, WorkerStopped
from evalkit.store import Store

log = logging.getLogger(__name__)


def default_directory(url: str) -> Path | None:
    """Where snapshots of this store are kept: $EVALKIT_CACHE_DIR or ~/.cache/evalkit, one folder per URL
    (hashed, so a password in the URL never becomes a file name). EVALKIT_CACHE_DIR=off disables it."""
    root = os.environ.get("EVALKIT_CACHE_DIR") or str(Path.home() / ".cache" / "evalkit")
    if root.lower() in ("off", "none", "0"):
        return None
    return Path(root) / "leaderboard" / sha256_text(url)[:16]


@dataclass(frozen=True)
class Served:
    snapshot: snap.Snapshot
    stale: bool  # the store has changed since; a rebuild is under way
    rows_pending: bool  # the row figures (LC win rates, judge bias, length bins) are still being computed
    error: str | None  # the last rebuild failed (the snapshot shown is older)


class SnapshotCache:
    """The snapshot of one store. Rebuilds and row figures run on one background thread; with a
    `worker`, that thread hands the work to a separate process (worker.py)."""

    def __init__(self, store: Store, directory: Path | None, worker: Worker | None = None) -> None:
        self.store = store
        self.directory = directory
        self.worker = worker
        self._lock = threading.Lock()
        self._snapshot: snap.Snapshot | None = None
        self._loaded_from_disk = False
        self._build: Future[None] | None = None
        self._rows: Future[None] | None = None
        self._error: str | None = None
        self._rows_tried: str | None = None  # token whose row figures were attempted: a failure is not retried per rerun
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evalkit-snapshot")

    def serve(self, token: str) -> Served:
        """The snapshot to show for a store whose results token is `token`."""
        with self._lock:
            current = self._current()
            fresh = current is not None and current.token == token
            if not self._busy() and not fresh:
                self._build = self._executor.submit(self._rebuild)
            elif not self._busy() and self._rows_missing(current) and self._rows_tried != token:
                self._rows = self._executor.submit(self._add_row_figures)
            build, busy = self._build, self._busy()
        if current is None:
            assert build is not None
            self._wait_first(build)
            return self.serve(token)
        return Served(current, not fresh, busy and self._rows_missing(current), self._error)

    def prepare(self) -> Served:
        """The current snapshot, loaded from disk or built now (this thread waits for it), before
        anything is served (server.py). With a worker the build runs there, so its tallies (hundreds of
        MB at 5M judgments) never enter the server's memory. The row figures follow in the background."""
        token = results_token(self.store)
        with self._lock:
            current = self._current()
        if current is None or current.token != token:
            try:
                built = self._build_now(token)
            except Exception as exc:
                log.exception("leaderboard snapshot failed")
                with self._lock:
                    self._error = f"{exc.__class__.__name__}: {exc}"
                raise
            self._publish(built)
        return self.serve(token)

    def _current(self) -> snap.Snapshot | None:
        """The snapshot in memory, or the saved one on the first call (caller holds the lock)."""
        if not self._loaded_from_disk:
            self._loaded_from_disk = True
            loaded = snap.load(self.directory) if self.directory else None
            self._snapshot = replace(loaded, source=self.store.url) if loaded is not None else None
        return self._snapshot

    def _busy(self) -> bool:
        return any(job is not None and not job.done() for job in (self._build, self._rows))

    @staticmethod
    def _rows_missing(current: snap.Snapshot | None) -> bool:
        return current is not None and not current.has_row_figures and current.has_comparisons

    def _wait_first(self, build: Future[None]) -> None:
        build.result()
        with self._lock:
            if self._snapshot is None:
                raise EvalkitError(f"could not read the results store: {self._error}")

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block until no build or row-figures job is running (tests and the speed benchmark use it)."""
        while self._busy():
            for job in (self._build, self._rows):
                if job is not None:
                    job.result(timeout=timeout)

    def _build_now(self, token: str) -> snap.Snapshot:
        if self.worker is None:
            return build.build_snapshot(self.store, token)
        tallies_at = tallies_directory(self.directory) if self.directory is not None else None
        return replace(self.worker.run(build.build_snapshot_at, self.store.url, token, tallies_at), source=self.store.url)

    def _rebuild(self) -> None:
        try:
            built = self._build_now(results_token(self.store))
        except WorkerStopped:  # the server is stopping: nobody will see this snapshot
            return
        except Exception as exc:  # a broken store must not kill the server thread; the page shows it
            log.exception("leaderboard snapshot failed")
            with self._lock:
                self._error = f"{exc.__class__.__name__}: {exc}"
            return
        self._publish(built)
        with self._lock:  # queued behind this job: pages get the snapshot now, the row figures later
            self._rows = self._executor.submit(self._add_row_figures)

    def _add_row_figures(self) -> None:
        try:
            self._compute_row_figures()
        finally:  # the worker's part of this store state is done: give its memory back until the next change
            if self.worker is not None:
                self.worker.release()

    def _compute_row_figures(self) -> None:
        current = self._snapshot
        if not self._rows_missing(current):
            return
        assert current is not None
        self._rows_tried = current.token
        scopes = snap.scopes_of(current.prompt_sets, set(current.prompts["hash"]))
        try:
            figures = self.worker.run(row_figures_at, self.store.url, scopes, current.pairs) if self.worker is not None else None
            self._publish(build.with_row_figures(current, figures), only_if_token=current.token)
        except WorkerStopped:
            return
        except Exception as exc:
            log.exception("the leaderboard's row figures failed")
            with self._lock:
                self._error = f"length-controlled win rates and judge bias: {exc.__class__.__name__}: {exc}"

    def _publish(self, built: snap.Snapshot, only_if_token: str | None = None) -> None:
        with self._lock:
            if only_if_token is not None and (self._snapshot is None or self._snapshot.token != only_if_token):
                return
            self._snapshot = built
            self._error = None
        if self.directory is not None:
            try:
                snap.save(built, self.directory)
            except Exception as exc:  # only a cache: serving goes on without it
                log.warning("could not save the leaderboard snapshot to %s: %s", self.directory, exc)


_shared: dict[str, SnapshotCache] = {}
_shared_lock = threading.Lock()


def shared_cache(url: str) -> SnapshotCache:
    """The one SnapshotCache of a store in this process: the server prepares it, pages read it.
    Its background work runs in a worker process, off the pages' GIL."""
    with _shared_lock:
        if url not in _shared:
            _shared[url] = SnapshotCache(Store(url, read_only=True), default_directory(url), Worker())
        return _shared[url]
