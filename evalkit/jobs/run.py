"""The run job (`evalkit run`, `evalkit.run(...)`): check the request, serve a judge checkpoint if one is
asked for, evaluate (evaluation.run_evaluation), and read the run's figures and failures once, so the
command only prints them and the Python API returns them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from evalkit.core.extras import require_backend
from evalkit.files.jsonio import json_safe
from evalkit.jobs.evaluation import RunConfig, RunReport, default_judges, run_evaluation, run_summary, summary_table
from evalkit.jobs.local_judge import JudgeServerSettings, served_judge

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.results.summary import Summary


@dataclass(frozen=True)
class CheckpointFigures:
    """One checkpoint's headline figures (a row of the run table); None where the run has no such figure."""

    checkpoint: str
    status: str  # "ok", or "skipped: why"
    decoding: str | None
    judge: str | None = None
    n: int | None = None
    win_rate: float | None = None
    standard_error: float | None = None
    likert: float | None = None
    # the combined (human + judge, PPI++) win rate and its 95% interval; None without human labels
    combined: float | None = None
    combined_ci_low: float | None = None
    combined_ci_high: float | None = None
    n_humans: int | None = None


@dataclass(frozen=True, eq=False)
class RunResult:
    """What a run found: what it was asked (`config`), its report (checkpoints, judges, baseline), the results layer's summary of exactly
    its judgments, the table `evalkit run` prints, and what went wrong (exit 1), one line each."""

    config: RunConfig
    report: RunReport
    summary: Summary
    table: pd.DataFrame
    failures: tuple[str, ...]
    db_url: str

    @property
    def ok(self) -> bool:
        """Every checkpoint evaluated and no judge job failed."""
        return all(o.error is None for o in self.report.outcomes) and not self.failures

    @property
    def rows(self) -> tuple[CheckpointFigures, ...]:
        return tuple(figures_of(record) for record in self.records())

    def records(self) -> list[dict[str, Any]]:
        """The table as `evalkit run --json` prints it: one object per checkpoint, NaN as null."""

        records: list[dict[str, Any]] = json_safe(self.table.to_dict(orient="records"))
        return records


def figures_of(record: dict[str, Any]) -> CheckpointFigures:
    return CheckpointFigures(
        checkpoint=record["checkpoint"],
        status=record["status"],
        decoding=record.get("decoding"),
        judge=record.get("judge"),
        n=None if record.get("n") is None else int(record["n"]),
        win_rate=record.get("win_rate"),
        standard_error=record.get("standard_error"),
        likert=record.get("likert"),
        combined=record.get("combined"),
        combined_ci_low=record.get("combined_ci_low"),
        combined_ci_high=record.get("combined_ci_high"),
        n_humans=None if record.get("n_humans") is None else int(record["n_humans"]),
    )


def check_run_request(config: RunConfig, baseline_db: str, local: bool, target: str | None = None) -> None:
    """Everything a run (or a pick, which has no `target` to check here) can be refused for, before the
    store is opened or created: the judges, the checkpoints, the baseline."""
    from evalkit.jobs.preflight import check_baseline, check_checkpoints, check_judges

    base_url = config.judge_options.get("base_url")
    judges = config.judges or default_judges(base_url, local=local)
    check_judges(judges, config.judge_model, base_url, probe=not local)
    if target is not None:
        require_backend(config.backend.backend, "evalkit run")
        check_checkpoints(target, config.epochs)
    check_baseline(config.baseline, baseline_db)


def evaluate_run(target: str, config: RunConfig, db: str | None = None, server: JudgeServerSettings | None = None) -> RunResult:
    """Check, evaluate `target` (a checkpoint or a training output) and summarise; a served judge
    checkpoint is started before anything is generated and stopped at the end."""
    from evalkit.core.settings import db_url
    from evalkit.judges.job_failures import all_invalid, job_failures
    from evalkit.store import Store

    server = server or JudgeServerSettings()
    url = db_url(db)
    check_run_request(config, url, bool(server.judge_checkpoint), target)
    with served_judge(server) as served:
        store = Store(url)
        report = run_evaluation(store, target, replace(config, served_judge=served))
        summary = run_summary(store, report)
        table = summary_table(store, report, summary)
    failures = [f"{o.checkpoint.name}: {line}" for o in report.outcomes for job in o.jobs for line in job_failures(job)]
    failures += all_invalid(summary.pairwise) + all_invalid(summary.single)
    return RunResult(config, report, summary, table, tuple(failures), url)
