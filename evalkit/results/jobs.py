"""A judging job's figures: the results layer's summary of exactly the answers, judge and baseline a
job judged (what `evalkit judge` reports next to the job's counters)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from evalkit.core.records import GenerationSetKey, JudgeIdentity
from evalkit.results.summary import Scope, summarize_store
from evalkit.stats.length_controlled import LC_FIELDS
from evalkit.store.store import Store

PAIRWISE_FIELDS = (
    "n",
    "n_invalid",
    "win_pct",
    "tie_pct",
    "loss_pct",
    "win_rate",
    "standard_error",
    "ci_low",
    "ci_high",
    "n_wins",
    "n_wins_base",
    "n_draws",
    *LC_FIELDS,
)
SINGLE_FIELDS = ("n", "n_samples", "n_invalid", "mean", "ci_low", "ci_high")


def job_figures(
    store: Store,
    job: dict[str, Any],
    model: tuple[int, str],
    baseline: tuple[int, str] | None = None,
    prompt_hashes: Collection[str] | None = None,
) -> dict[str, Any]:
    """The summary row of the job's judge (kind, model, spec hash) for its generation set (against its
    baseline when it compared), restricted to `prompt_hashes` when given."""
    judge = JudgeIdentity(job["judge"], job["judge_model"], job["spec_hash"])
    generation_set = GenerationSetKey(*model)
    against = GenerationSetKey(*baseline) if baseline is not None else None
    scope = Scope(
        prompt_hashes=frozenset(prompt_hashes) if prompt_hashes is not None else None,
        generation_sets=frozenset({generation_set}),
        judges=frozenset({judge}),
        baseline=against,
    )
    row = (
        summarize_store(store, scope, length_controlled=against is not None).row(against is not None, judge, generation_set) or {}
    )
    figures: dict[str, Any] = {"decoding": generation_set.decoding}
    if against is not None:
        figures["baseline_decoding"] = against.decoding
    figures.update({field: row.get(field) for field in (PAIRWISE_FIELDS if baseline is not None else SINGLE_FIELDS)})
    figures["invalid"] = row.get("n_invalid", 0)
    figures["invalid_reasons"] = row.get("invalid_reasons") or {}
    if baseline is not None:  # the counts by name (AlpacaEval's: a preference above 1.5 is a win)
        figures.update({"wins": row.get("n_wins", 0), "ties": row.get("n_draws", 0), "losses": row.get("n_wins_base", 0)})
    else:
        figures["distribution_pct"] = {str(p): row.get(f"pct_score_{p}") for p in range(1, 7)}
    return figures
