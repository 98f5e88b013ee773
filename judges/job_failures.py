"""What went wrong in a judge job, one line each: the difference between exit code 0 (everything asked
for was done) and 1 (done with failures, each named), and between 1 and 2 for a job that stopped."""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.core.redaction import redact_text


class LostMidJob(EvalkitError):
    """The judge endpoint went away after the job stored work: done with a failure (exit 1), not bad
    input. The stored judgments are kept; a re-run asks only for the rest."""

    exit_code = 1

    def __init__(self, url: str, stored: int) -> None:
        super().__init__(f"judge endpoint {url} stopped answering mid-job: {stored} judgments stored; re-run to continue")
        self.url = url
        self.stored = stored


def lost_mid_job(exc: EvalkitError, stored_before: int) -> EvalkitError:
    """What to raise for an endpoint lost during a job (`exc`: EndpointUnreachable, or LostMidJob from an
    inner job) after `stored_before` judgments this invocation stored: unreachable with nothing stored
    stays bad input (exit 2); anything stored makes it LostMidJob with the total (exit 1)."""
    from evalkit.judges.calls import EndpointUnreachable

    if isinstance(exc, LostMidJob):
        return LostMidJob(exc.url, exc.stored + stored_before)
    if isinstance(exc, EndpointUnreachable) and stored_before > 0:
        return LostMidJob(exc.url, stored_before)
    return exc


def job_failures(summary: dict[str, Any]) -> list[str]:
    """One line per failure of a judge job: requests that failed after retries, a budget stop before
    the work was done, or (when the summary carries the results layer's `n` / `n_invalid`) a judge
    none of whose replies could be read, so it has no figure."""
    name = f"{summary.get('label') or summary.get('judge')} judge ({summary.get('judge_model')})"
    failures = []
    if summary.get("errors"):
        failures.append(
            f"{name}: {summary['errors']} requests failed after retries (first: {summary.get('first_error')}); "
            "re-run to retry them"
        )
    if summary.get("budget_stopped"):
        failures.append(
            f"{name}: stopped before exceeding --max-cost (${summary.get('cost_usd', 0):.4f} spent) with work left; "
            "re-run with a higher budget to continue"
        )
    if summary.get("n_invalid") and not summary.get("n"):
        failures.append(
            f"{name}: all {summary['n_invalid']} replies were invalid, no result; check --judge-model and the judge's template"
        )
    return [redact_text(line) for line in failures]  # a first error may quote a server's words


def all_invalid(rows: pd.DataFrame) -> list[str]:
    """One line per summary row (judge x generation set) whose every judgment was unreadable."""
    if rows.empty:
        return []
    bad = rows[(rows["n"] == 0) & (rows["n_invalid"] > 0)]
    return [
        f"{row['judge_kind']} judge ({row['judge_model']}) on {row['model']}: all {int(row['n_invalid'])} replies were "
        "invalid, no result; check --judge-model and the judge's template"
        for _, row in bad.iterrows()
    ]
