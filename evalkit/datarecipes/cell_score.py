"""The one place a sweep reads evaluation results: `evalkit run`'s machinery for one checkpoint, then
its win rate vs the baseline and the per-prompt preferences behind it.

Everything a sweep knows about how results are computed passes through `score_checkpoint`, so when the
results layer changes only this function needs repointing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.errors import EvalkitError
from evalkit.run import RunConfig, comparison_table, run_evaluation, scope_rows, summary_table
from evalkit.stats.bootstrap import bootstrap_mean_interval
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
    row = summary_table(store, report).iloc[0]
    kind = row.get("judge")
    if not isinstance(kind, str):
        raise EvalkitError(
            "a sweep compares cells by win rate; --judges needs a pairwise judge (pairwise, alpaca_eval or reference)"
        )
    hashes = {p.hash for p in report.prompt_set.prompts}
    rows = scope_rows(comparison_table(store, kind), report, hashes, baseline=True, kind=kind)
    rows = rows[rows["model_id"] == outcome.model_id]
    units = pd.Series(preference_unit(preference_column(rows)), index=rows["prompt_hash"].to_numpy())
    per_prompt = units.groupby(level=0).mean()
    low, high = bootstrap_mean_interval(per_prompt.to_numpy(dtype=np.float64))
    return CellScore(outcome.model_id, kind, int(row["n"]), float(row["win_rate"]), low * 100, high * 100, per_prompt)
