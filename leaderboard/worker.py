"""A separate process for the snapshot's heavy work (rebuilding after the store changed, length-
controlled win rates: seconds of pandas, numpy and scikit-learn).

Run on a thread of the server, that work holds the GIL for most of its time and pages rendered
meanwhile slow down (measured on the 483k-judgment bench store: the Leaderboard page's first render
took 1.28 s with length control on a thread, 0.40 s with it here); in its own process, at lower CPU
priority, it takes one core and leaves the server alone. One worker per store, started on first use ("spawn": the server has threads running,
which a fork would copy in an undefined state).

Stopping must never hang. A multiprocessing Pool left the caller waiting forever when its worker was
killed mid-job (SIGTERM to the process group, as systemd sends it), and the server's exit waits for
that caller's thread; so the job is sent over a pipe here and the caller watches the process while it
waits. SIGTERM to the worker means someone is stopping us: the job ends with WorkerStopped, which
callers drop quietly. Ctrl-C reaches the whole foreground group; the worker ignores it and is stopped by
the server (stop_all) instead, so it never dies half-way with a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

T = TypeVar("T")
NICENESS = 10
POLL_S = 0.2  # how often a waiting caller looks whether the worker still lives
STOP_WAIT_S = 1.0


class WorkerStopped(Exception):
    """The worker was stopped (the server is shutting down): nobody needs the job's result."""


class WorkerDied(RuntimeError):
    """The worker process ended during a job without being asked to (killed by the OOM killer, a crash)."""


def _serve(conn: Connection) -> None:
    """The worker process: run each (function, args) received, send back (ok, result or exception)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops us; see the module docstring
    with contextlib.suppress(OSError, AttributeError):  # lower priority is only a courtesy, not on every platform
        os.nice(NICENESS)
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):  # the server is gone
            return
        try:
            reply: tuple[bool, Any] = (True, function(*args))
        except Exception as exc:
            reply = (False, exc)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return
        except Exception as exc:  # the result or exception would not pickle: say so rather than hang
            conn.send((False, RuntimeError(f"unpicklable result of {getattr(function, '__name__', function)}: {exc}")))


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """While a "spawn" child starts: no __main__ script for it to run again.

    A spawn child re-runs the parent's __main__ script (as `__mp_main__`) before its target. In the
    server, and under AppTest, __main__ is whichever Streamlit script is running (the app, or a page),
    so the worker would execute page code (and fail on it) before its first job. With a bare __main__
    (no __file__, no __spec__) it imports only what its target needs. The swap lasts as long as
    process.start(), a fork and exec."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class Worker:
    def __init__(self) -> None:
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._job_lock = threading.Lock()  # one job at a time, like the single-process pool it replaces
        self._stopped = threading.Event()
        _live.add(self)

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """function(*args) in the worker process; blocks the calling (background) thread until done."""
        with self._job_lock:
            if self._stopped.is_set():
                raise WorkerStopped()
            conn, process = self._ensure_started()
            with contextlib.suppress(OSError):  # the process just went: the loop below finds out how
                conn.send((function, args))
            while True:
                try:
                    if conn.poll(POLL_S):
                        ok, value = conn.recv()
                        break
                except (EOFError, OSError):
                    process.join(STOP_WAIT_S)  # the pipe closed: the process is ending; learn how
                if self._stopped.is_set() or process.exitcode == -signal.SIGTERM:
                    raise WorkerStopped()
                if process.exitcode is not None:
                    self._forget()
                    raise WorkerDied(f"the leaderboard's worker process ended during a job (exit code {process.exitcode})")
        if not ok:
            raise value
        return value

    def _ensure_started(self) -> tuple[Connection, BaseProcess]:
        if self._process is None or self._conn is None or not self._process.is_alive():
            ours, theirs = multiprocessing.Pipe()
            process = multiprocessing.get_context("spawn").Process(
                target=_serve, args=(theirs,), name="evalkit-leaderboard-worker", daemon=True
            )
            with _main_script_hidden():
                process.start()
            theirs.close()
            self._process, self._conn = process, ours
        return self._conn, self._process

    def _forget(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    def release(self) -> None:
        """End the process between jobs, so the memory its last job used goes back to the system (a
        snapshot of 5M judgments peaks at ~4.8 GB, and a Python process keeps most of what it once
        held); the next job starts a fresh one. Closing our end of the pipe ends its loop cleanly."""
        with self._job_lock:
            process, conn = self._process, self._conn
            if process is None or conn is None:
                return
            self._forget()
            process.join(STOP_WAIT_S)
            if process.is_alive():
                process.terminate()
                process.join(STOP_WAIT_S)

    def close(self) -> None:
        """Stop the worker for good: a job in progress ends with WorkerStopped, later jobs are refused."""
        self._stopped.set()
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()
            process.join(STOP_WAIT_S)
            if process.is_alive():
                process.kill()
                process.join(STOP_WAIT_S)


_live: weakref.WeakSet[Worker] = weakref.WeakSet()


def stop_all() -> None:
    """Stop every worker of this process. The server calls it once Streamlit has stopped, before the
    interpreter waits for the background threads: a thread waiting on a job must not keep it alive."""
    for worker in list(_live):
        worker.close()


atexit.register(stop_all)  # tests and `streamlit run` by hand never reach the server's own call
