"""The one place a sweep reads evaluation results: `evalkit run`'s machinery for one checkpoint, then
its win rate vs the baseline and the per-prompt preferences behind it.

Everything a sweep knows about how results are computed passes through `score_checkpoint`, so when the
results layer changes only this function needs repointing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.jobs.evaluation import RunConfig, run_evaluation
from evalkit.results.summary import select, summarize
from evalkit.results.tables import read_tables
from evalkit.stats.summary import preference_column
from evalkit.stats.winrate import preference_unit
from evalkit.store import Store


@dataclass(frozen=True)
class CellScore:
    model_id: int
    judge: str
    n: int
    win_rate: float  # percent, as `evalkit run` reports it
    ci_low: float
    ci_high: float
    per_prompt: pd.Series  # prompt hash -> preference on [0, 1] (1: the cell's model wins), for paired tests


def score_checkpoint(store: Store, train_dir: Path, epoch: int, config: RunConfig) -> CellScore:
    """Evaluate epoch `epoch` of a training output (stored generations and judgments are reused)."""
    report = run_evaluation(store, str(train_dir), replace(config, epochs=[epoch]))
    outcome = report.outcomes[0]
    if outcome.error is not None or outcome.model_id is None:
        raise EvalkitError(f"{train_dir}/epoch-{epoch} could not be evaluated: {outcome.error}")
    judge, model = report.headline(compares=True), outcome.generation_set
    if judge is None or model is None:
        raise EvalkitError(
            "a sweep compares cells by win rate; --judges needs a judge that compares with the baseline "
            "(pairwise, alpaca_eval, reference or a pairwise spec)"
        )
    tables = select(read_tables(store, instructions=False), report.scope())
    row = summarize(tables).row(True, judge, model)
    if row is None:
        raise EvalkitError(f"{train_dir}/epoch-{epoch} has no valid judgment to score")
    rows = tables.comparisons
    rows = rows[judge.mask(rows) & (rows["model_id"] == model.model_id) & (rows["decoding"] == model.decoding)]
    units = pd.Series(preference_unit(preference_column(rows)), index=rows["prompt_hash"].to_numpy())
    per_prompt = units.groupby(level=0).mean()
    # The interval is the results layer's (bootstrap over prompts), as every other surface shows it.
    return CellScore(
        outcome.model_id,
        judge.kind,
        int(row["n"]),
        float(row["win_rate"]),
        float(row["ci_low"]),
        float(row["ci_high"]),
        per_prompt,
    )
