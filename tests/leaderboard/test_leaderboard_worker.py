"""The leaderboard's worker process never leaves its caller waiting: a job whose worker is stopped
(SIGTERM to the process group, or the server's own stop) or dies ends at once, so the server's exit,
which waits for the thread holding the job, cannot hang."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable

import pytest

from evalkit.leaderboard.worker import Worker, WorkerDied, WorkerStopped, stop_all

ENDS_WITHIN_S = 5.0


def _running_job(worker: Worker) -> tuple[threading.Thread, list[BaseException], int]:
    """worker.run(time.sleep, 60) on a thread; (thread, what ended its job, the worker's pid)."""
    pid = worker.run(os.getpid)
    errors: list[BaseException] = []

    def job() -> None:
        try:
            worker.run(time.sleep, 60)
        except BaseException as exc:  # noqa: BLE001  (the test inspects whatever ended the job)
            errors.append(exc)

    thread = threading.Thread(target=job, daemon=True)
    thread.start()
    time.sleep(0.5)  # the job reaches the worker
    return thread, errors, pid


def _ends(thread: threading.Thread) -> float:
    started = time.monotonic()
    thread.join(ENDS_WITHIN_S)
    assert not thread.is_alive(), "the job's caller still waits on a worker that is gone"
    return time.monotonic() - started


@pytest.mark.parametrize(
    "stop, expected",
    [
        (lambda worker, pid: os.kill(pid, signal.SIGTERM), WorkerStopped),  # the process group's SIGTERM
        (lambda worker, pid: stop_all(), WorkerStopped),  # the server stopping its workers
        (lambda worker, pid: os.kill(pid, signal.SIGKILL), WorkerDied),  # the OOM killer
    ],
    ids=["sigterm", "stop_all", "sigkill"],
)
def test_a_job_ends_when_its_worker_goes(stop: Callable[[Worker, int], None], expected: type[BaseException]) -> None:
    worker = Worker()
    try:
        thread, errors, pid = _running_job(worker)
        stop(worker, pid)
        _ends(thread)
        assert len(errors) == 1 and isinstance(errors[0], expected), errors
    finally:
        worker.close()


def test_a_worker_that_died_is_replaced_for_the_next_job() -> None:
    worker = Worker()
    try:
        assert worker.run(pow, 2, 10) == 1024
        thread, errors, pid = _running_job(worker)
        os.kill(pid, signal.SIGKILL)
        _ends(thread)
        assert worker.run(pow, 3, 3) == 27  # a new process
        with pytest.raises(ZeroDivisionError):  # a job's own exception reaches the caller
            worker.run(divmod, 1, 0)
    finally:
        worker.close()
    with pytest.raises(WorkerStopped):  # closed for good: the server is stopping
        worker.run(pow, 2, 2)


def test_the_worker_never_runs_the_parents_main_script(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit (and AppTest) leave __main__ as the script that ran last, and a spawn child runs the
    parent's __main__ script again before its target: a page that fails outside a session would kill
    every worker before its first job."""
    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('a page script ran in the worker')\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)
    worker = Worker()
    try:
        assert worker.run(pow, 2, 3) == 8
    finally:
        worker.close()
    assert sys.modules["__main__"] is page


def test_a_released_worker_gives_its_process_back_and_the_next_job_starts_a_fresh_one() -> None:
    """After a snapshot's jobs the cache releases its worker: that process ends (its memory goes back to
    the system) without a stop, and later jobs still run."""
    worker = Worker()
    try:
        first = worker.run(os.getpid)
        worker.release()
        deadline = time.monotonic() + ENDS_WITHIN_S
        while time.monotonic() < deadline and os.path.exists(f"/proc/{first}"):
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{first}") or open(f"/proc/{first}/stat").read().split()[2] == "Z"
        second = worker.run(os.getpid)
        assert second != first
        worker.release()
        worker.release()  # nothing running: nothing to do
    finally:
        worker.close()
