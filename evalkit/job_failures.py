"""What went wrong in a finished judge job, one line each: the difference between exit code 0
(everything asked for was done) and 1 (done with failures, each named)."""

from __future__ import annotations

from typing import Any


def valid_results(summary: dict[str, Any]) -> int | None:
    """How many usable results a judge job's summary holds (None when it does not say)."""
    if "n_answers" in summary:  # single-answer judges: answers with at least one valid grade
        return int(summary["n_answers"])
    if "wins" in summary:  # pairwise judges
        return int(summary["wins"]) + int(summary["ties"]) + int(summary["losses"])
    if "n" in summary and "invalid" in summary:  # alpaca_eval
        return int(summary["n"]) - int(summary["invalid"])
    return None


def job_failures(summary: dict[str, Any]) -> list[str]:
    """One line per failure of a judge job: requests that failed after retries, a budget stop before
    the work was done, or a judge none of whose replies could be read (its numbers are NaN)."""
    name = f"{summary.get('label') or summary.get('judge')} judge ({summary.get('judge_model')})"
    failures = []
    if summary.get("errors"):
        failures.append(f"{name}: {summary['errors']} requests failed after retries (first: {summary.get('first_error')}); "
                        "re-run to retry them")
    if summary.get("budget_stopped"):
        failures.append(f"{name}: stopped before exceeding --max-cost (${summary.get('cost_usd', 0):.4f} spent) with work left; "
                        "re-run with a higher budget to continue")
    if summary.get("invalid") and valid_results(summary) == 0:
        failures.append(f"{name}: all {summary['invalid']} replies were invalid, no result; check --judge-model and the judge's template")
    return failures
