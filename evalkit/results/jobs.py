"""A judging job's figures: the results layer's summary of exactly the answers, judge and baseline a
job judged (what `evalkit judge` reports next to the job's counters)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from evalkit.results.summary import GenerationSet, Scope, summarize_store
from evalkit.stats.length_controlled import LC_FIELDS

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
    store: object,
    job: dict[str, Any],
    model: GenerationSet,
    baseline: GenerationSet | None = None,
    prompt_hashes: Collection[str] | None = None,
) -> dict[str, Any]:
    """The summary row of the job's judge (kind, model, spec hash) for its generation set (against its
    baseline when it compared), restricted to `prompt_hashes` when given."""
    judge = (job["judge"], job["judge_model"], job["spec_hash"])
    scope = Scope(
        prompt_hashes=frozenset(prompt_hashes) if prompt_hashes is not None else None,
        generation_sets=frozenset({model}),
        judges=frozenset({judge}),
        baseline=baseline,
    )
    row = summarize_store(store, scope, length_controlled=baseline is not None).row(baseline is not None, judge, model) or {}
    figures: dict[str, Any] = {"decoding": model[1]}
    if baseline is not None:
        figures["baseline_decoding"] = baseline[1]
    figures.update({field: row.get(field) for field in (PAIRWISE_FIELDS if baseline is not None else SINGLE_FIELDS)})
    figures["invalid"] = row.get("n_invalid", 0)
    figures["invalid_reasons"] = row.get("invalid_reasons") or {}
    if baseline is not None:  # the counts by name (AlpacaEval's: a preference above 1.5 is a win)
        figures.update({"wins": row.get("n_wins", 0), "ties": row.get("n_draws", 0), "losses": row.get("n_wins_base", 0)})
    else:
        figures["distribution_pct"] = {str(p): row.get(f"pct_score_{p}") for p in range(1, 7)}
    return figures
