"""Evaluation while training: a child process evaluates each checkpoint as it lands.

The child runs the same `run_evaluation` as `evalkit run` with the run's `RunConfig`, so a later `pick` (or a
re-run) finds every answer and judgment stored and repeats nothing. It is a separate process, not a
thread, so generation never holds the training loop's interpreter. It starts before the trainer imports
torch and does the epochs' shared work (the baseline's answers) on the core those imports leave idle;
once the trainer trains it runs under SCHED_IDLE with one torch thread, so it takes only CPU training
leaves idle and training keeps its pace. When training ends on a CPU, the trainer's process, idle now,
evaluates the queued epochs beside it.

Kill safety comes from the store: each stage is keyed by content hashes and written in transactions, so
a killed child loses at most the work in flight, and a killed parent leaves the child to finish the
checkpoints already handed over (it notices the orphaning when its queue runs dry) before it exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError
from evalkit.jobs.evaluation import RunConfig, default_judges, prepare_evaluation, run_evaluation
from evalkit.train.checkpoints import complete_epochs

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

log = logging.getLogger(__name__)
# Where there is no SCHED_IDLE (not Linux), how far below training the evaluator runs: low enough that the
# scheduler favours training, not so low (19) that everything is left to judge after the last epoch.
EVALUATOR_NICENESS = 10
POLL_SECONDS = 0.5
HELP_POLL_SECONDS = 0.05  # the queue only empties once the child took the sentinel: no wait for more
EXIT_GRACE_SECONDS = 10.0
TEARDOWN_GRACE_SECONDS = 0.2


@dataclass(frozen=True)
class CheckpointJob:
    """What to evaluate: a training output with the epochs that landed, or one model directory (a TRL
    `checkpoint-STEP/`). Epochs of a training output are evaluated through the run, so they are named and
    baselined exactly as `evalkit run RUN` and `pick` name and baseline them."""

    target: str
    epochs: tuple[int, ...] | None = None

    @property
    def label(self) -> str:
        name = Path(self.target).name
        return f"{name}/epoch-{','.join(map(str, self.epochs))}" if self.epochs else name


@dataclass(frozen=True)
class EvaluatedCheckpoint:
    """One handed-over checkpoint and how its evaluation ended (`error` None: everything stored)."""

    label: str
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"checkpoint": self.label, "error": self.error}


def offline_judge_notice(config: RunConfig) -> str | None:
    """The one line `--evaluate` prints when no judge is configured and the offline judge stands in."""
    if config.judges or default_judges(config.judge_options.get("base_url")) != ("reference",):
        return None
    return (
        "evalkit: no judge configured (--judges, --judge-base-url or OPENAI_BASE_URL); "
        "evaluating with the offline reference-overlap judge"
    )


def evaluate_one(db_url: str, job: CheckpointJob, config: RunConfig) -> EvaluatedCheckpoint:
    """`evalkit run` on one job, as the child (and the helping parent) runs it; an error is reported, never
    raised, so one broken checkpoint does not stop the others."""
    from evalkit.judges.job_failures import job_failures
    from evalkit.store import Store

    epochs = list(job.epochs) if job.epochs else None
    try:
        report = run_evaluation(Store(db_url), job.target, replace(config, epochs=epochs, progress=False))
    except EvalkitError as exc:
        return EvaluatedCheckpoint(job.label, str(exc))
    except Exception as exc:  # the child's only report channel is the result queue
        return EvaluatedCheckpoint(job.label, f"{type(exc).__name__}: {exc}")
    problems = [f"{o.checkpoint.name}: {o.error}" for o in report.outcomes if o.error]
    problems += [f"{o.checkpoint.name}: {line}" for o in report.outcomes for j in o.jobs for line in job_failures(j)]
    return EvaluatedCheckpoint(job.label, "; ".join(problems) or None)


@dataclass(frozen=True)
class TrainingAhead:
    """The training run whose epochs will come (its output folder and base model), so that the evaluator
    does their shared work before the first one lands."""

    out_dir: str
    base_model: str


def prepare_ahead(db_url: str, ahead: TrainingAhead, config: RunConfig) -> None:
    """jobs.evaluation.prepare_evaluation for the coming epochs; an error is left to the first epoch's
    evaluation, which meets it again and reports it."""
    from evalkit.store import Store

    try:
        prepare_evaluation(Store(db_url), ahead.out_dir, replace(config, progress=False), Path(ahead.base_model))
    except Exception as exc:  # the child's only report channel is the result queue, which is for epochs
        log.debug("shared evaluation work not done ahead: %s", exc)


def serve(
    jobs: Any, results: Any, config: RunConfig, db_url: str, niceness: int, parent: int, ahead: TrainingAhead | None = None
) -> None:
    """The child's loop: evaluate jobs until the sentinel (None), or until the parent is gone and every
    job it handed over is done. `ahead`: the training run, whose shared work (jobs.evaluation.
    prepare_evaluation) is done first, while the trainer is still importing. One job at a time, so that a
    parent helping after training (CheckpointEvaluator.finish) shares what is left evenly."""
    _set_torch_threads(1)  # training owns the cores; one thread keeps the evaluator on the spare one
    if ahead is None:
        yield_to_training(os.getpid(), niceness)
    else:  # at full priority while the trainer imports on one core; it makes this process yield when it trains
        prepare_ahead(db_url, ahead, config)
    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if job is None:
            return
        try:
            results.put(evaluate_one(db_url, job, config))
        except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the parent reports, not this child
            return


def yield_to_training(pid: int, niceness: int) -> None:
    """Let process `pid` run only on CPU that training leaves idle: SCHED_IDLE where the system has it
    (Linux). A nice value alone still takes time slices from training, and a training step on several
    threads waits for the one that lost its slice: beside an evaluator at nice 10 the tiny 10-epoch
    training took 19.3 s instead of 11.8 s, beside one under SCHED_IDLE 11.7-13.9 s. Threads the process
    starts later inherit it."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux
        try:
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
        except OSError:  # it has ended
            pass


def _set_torch_threads(count: int) -> int:
    """Set torch's thread count; returns the previous one (0 without torch: an API-only backend needs none)."""
    try:
        import torch
    except ImportError:
        return 0
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    return previous


class CheckpointEvaluator:
    """The evaluating child process: `submit` hands it a landed checkpoint (the child starts with the first
    one), `finish` waits for everything handed over, `stop` ends it now (stored work is kept)."""

    def __init__(
        self,
        config: RunConfig,
        db_url: str,
        *,
        niceness: int = EVALUATOR_NICENESS,
        ahead: TrainingAhead | None = None,
    ) -> None:
        """`ahead`: the training run whose epochs will come (see serve)."""
        self._config, self._db_url, self._niceness, self._ahead = config, db_url, niceness, ahead
        self._context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
        self._jobs: Any = None
        self._results: Any = None
        self._process: SpawnProcess | None = None
        self._submitted: list[CheckpointJob] = []
        self._done: list[EvaluatedCheckpoint] = []
        self._stopped = False

    @property
    def process(self) -> SpawnProcess | None:
        return self._process

    @property
    def submitted(self) -> tuple[CheckpointJob, ...]:
        return tuple(self._submitted)

    def submit(self, job: CheckpointJob) -> None:
        if self._stopped:
            raise EvalkitError("the evaluator was stopped; start another to evaluate more checkpoints")
        self.start()
        self._submitted.append(job)
        self._jobs.put(job)

    def start(self) -> None:
        """Start the child now (as training starts), so its imports overlap the first epoch; idempotent."""
        if self._process is None:
            self._start()

    def _start(self) -> None:
        self._jobs, self._results = self._context.Queue(), self._context.Queue()
        args = (self._jobs, self._results, self._config, self._db_url, self._niceness, os.getpid(), self._ahead)
        # not a daemon: a daemon may not start processes, and vLLM (and Ray) start their own
        self._process = self._context.Process(target=serve, args=args, name="evalkit-evaluator")
        self._process.start()

    def yield_to_training(self) -> None:
        """Training starts now: from here the child runs only on CPU training leaves idle (a child started
        without `ahead` yields from its start)."""
        if self._process is not None and self._process.pid is not None:
            yield_to_training(self._process.pid, self._niceness)

    def finish(self, timeout: float | None = None, *, helps: bool = False) -> tuple[EvaluatedCheckpoint, ...]:
        """Every handed-over checkpoint's outcome, in order; past `timeout` seconds the child is stopped and
        what it had not finished is reported as not evaluated (what it stored is kept). `helps`: this
        process takes queued checkpoints too, one at a time beside the child: training is over, and on a
        CPU the checkpoints it left queued are then evaluated on two cores instead of one."""
        if self._process is None:
            return ()
        if self._process.is_alive() and not self._stopped:
            self._jobs.put(None)
            self._hurry()
            if helps:
                self._help()
        self._collect(timeout)
        # Every outcome in means every write behind it committed: what is left of the child is interpreter
        # teardown (1.2 s with torch loaded), not worth waiting for. Otherwise it has its sentinel: let it
        # exit cleanly first.
        everything = len(self._done) >= len(self._submitted)
        self._process.join(timeout=TEARDOWN_GRACE_SECONDS if everything else EXIT_GRACE_SECONDS)
        self.stop()
        reported = {done.label: done for done in self._done}
        why = "not evaluated (evaluator stopped); `evalkit run` resumes it, repeating nothing stored"
        return tuple(reported.get(job.label, EvaluatedCheckpoint(job.label, why)) for job in self._submitted)

    def _hurry(self) -> None:
        """Training is over, so the evaluator stops yielding to it: back to the normal policy at this
        process's priority, where the system lets a process raise its child's (leaving SCHED_IDLE or
        lowering a nice value needs CAP_SYS_NICE; otherwise it finishes on idle CPU, which is all of it on a
        machine that only trained)."""
        process = self._process
        assert process is not None and process.pid is not None
        try:
            if hasattr(os, "sched_setscheduler"):
                os.sched_setscheduler(process.pid, os.SCHED_OTHER, os.sched_param(0))
            os.setpriority(os.PRIO_PROCESS, process.pid, os.getpriority(os.PRIO_PROCESS, 0))
        except OSError:  # PermissionError; ProcessLookupError if it just ended
            pass

    def _help(self) -> None:
        """Evaluate queued checkpoints here until the sentinel comes up (put back for the child) or the queue
        is empty; one torch thread, as the child uses, so the two share the cores."""
        threads = _set_torch_threads(1)
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=HELP_POLL_SECONDS)
                except queue.Empty:  # the child took the rest, the sentinel included
                    return
                if job is None:
                    self._jobs.put(None)
                    return
                self._done.append(evaluate_one(self._db_url, job, self._config))
        except BaseException:  # Ctrl-C here: the child must not be left running (the exit would wait on it)
            self.stop()
            raise
        finally:
            if threads:
                _set_torch_threads(threads)

    def _collect(self, timeout: float | None) -> None:
        # Drained while waiting: a child blocked on a full result pipe would never exit.
        process = self._process
        assert process is not None
        waited = 0.0
        while len(self._done) < len(self._submitted):
            try:
                self._done.append(self._results.get(timeout=POLL_SECONDS))
                continue
            except queue.Empty:
                waited += POLL_SECONDS
            if not process.is_alive() and self._results.empty():
                return
            if timeout is not None and waited >= timeout:
                return

    def stop(self) -> None:
        process = self._process
        if process is None or self._stopped:
            return
        self._stopped = True
        if process.is_alive():
            process.terminate()
        process.join(timeout=30)
        for channel in (self._jobs, self._results):
            channel.close()
            channel.join_thread()


class EpochWatcher:
    """Hands each epoch of a training output to the evaluator once its folder is published (train/ renames
    a complete `epoch-N.partial` into place, so a published folder is a whole checkpoint)."""

    def __init__(self, out_dir: Path, evaluator: CheckpointEvaluator, wanted: set[int] | None = None) -> None:
        self._out_dir, self._evaluator, self._wanted = out_dir, evaluator, wanted
        self._seen: set[int] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="evalkit-epoch-watcher", daemon=True)

    def start(self) -> None:
        self._evaluator.start()
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            self.sweep()

    def sweep(self) -> None:
        if not self._out_dir.is_dir():
            return
        for epoch in complete_epochs(self._out_dir):
            if epoch in self._seen or (self._wanted is not None and epoch not in self._wanted):
                continue
            self._seen.add(epoch)
            self._evaluator.submit(CheckpointJob(str(self._out_dir.resolve()), (epoch,)))

    def training_starts(self) -> None:
        """The trainer has its libraries loaded and starts now: the evaluator yields the CPU to it."""
        self._evaluator.yield_to_training()

    def finish(self, timeout: float | None = None, *, helps: bool = False) -> tuple[EvaluatedCheckpoint, ...]:
        """Training ended: hand over what landed last, then wait for the evaluator (`helps`: see its finish)."""
        self._stopping.set()
        self._thread.join()
        self.sweep()
        return self._evaluator.finish(timeout, helps=helps)

    def stop(self) -> None:
        """Training failed or was interrupted: end the evaluator now; what it stored is kept."""
        self._stopping.set()
        self._thread.join()
        self._evaluator.stop()
