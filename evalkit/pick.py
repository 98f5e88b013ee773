"""`evalkit pick`: choose a training run's checkpoint from stored results, evaluating what is missing.

Writes the decision to the store, to RUN/picked.json and as a RUN/best link to the chosen epoch.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.jsonio import json_safe, write_json_atomic
from evalkit.errors import EvalkitError
from evalkit.generate.checkpoint import find_checkpoints
from evalkit.pick_policy import POLICY, choose
from evalkit.records import Decision
from evalkit.run import DEFAULT_WINDOW, RunConfig, RunReport, run_evaluation, scope_rows
from evalkit.settings import db_url as resolve_db_url
from evalkit.store import Store

PAIRWISE_PREFERENCE = ("pairwise", "alpaca_eval", "reference")


def _link_best(run_dir: Path, chosen: str) -> None:
    """RUN/best -> epoch-N, replaced atomically so a reader never finds it missing."""
    link, temporary = run_dir / "best", run_dir / ".best.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(chosen, temporary, target_is_directory=True)
    os.replace(temporary, link)


def _results(store: Store, report: RunReport) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    from evalkit.judges.results import likert_table
    from evalkit.run import comparison_table

    hashes = {p.hash for p in report.prompt_set.prompts}
    for kind in PAIRWISE_PREFERENCE:
        if kind in report.judges:
            pairwise = scope_rows(comparison_table(store, kind), report, hashes, baseline=True, kind=kind)
            break
    else:
        raise EvalkitError("picking needs a pairwise judge (pairwise, alpaca_eval or reference) in --judges")
    likert_kind = "likert" if "likert" in report.judges else "reference_likert"
    likert = scope_rows(likert_table(store, likert_kind), report, hashes, baseline=False, kind=likert_kind)
    return pairwise, likert, kind


def pick_checkpoint(run_dir: str | Path, *, db_url: str | None = None, config: RunConfig | None = None,
                    window: tuple[int, ...] = DEFAULT_WINDOW, n_resamples: int = 10_000) -> dict[str, Any]:
    """Evaluate the window's checkpoints (finished work is skipped) and apply the default policy."""
    root = Path(run_dir)
    if (root / "config.json").is_file():
        raise EvalkitError(f"{root} is one model, not a training output with epoch-N/ checkpoints; nothing to pick from")
    present = find_checkpoints(root, list(window))
    store = Store(resolve_db_url(db_url))
    config = replace(config or RunConfig(), epochs=[c.epoch for c in present if c.epoch is not None])
    report = run_evaluation(store, str(root), config)
    evaluated = [o for o in report.outcomes if o.error is None and o.model_id is not None]
    checkpoints = pd.DataFrame({"model_id": [o.model_id for o in evaluated], "name": [o.checkpoint.path.name for o in evaluated],
                                "epoch": [o.checkpoint.epoch for o in evaluated]})
    # Epochs with identical weights are one model in the store; the earliest stands for them.
    checkpoints = checkpoints.sort_values("epoch").drop_duplicates("model_id", keep="first")
    pairwise, likert, kind = _results(store, report)
    decision = json_safe(choose(pairwise, likert, checkpoints, n_resamples=n_resamples))
    decision.update({
        "run": str(root.resolve()), "judge": kind, "baseline": report.baseline_name, "prompt_set": report.prompt_set.name,
        "window": [min(window), max(window)], "missing_epochs": sorted(set(window) - {int(e) for e in checkpoints["epoch"]}),
        "skipped": {o.checkpoint.path.name: o.error for o in report.outcomes if o.error},
    })
    write_json_atomic(root / "picked.json", decision)
    _link_best(root, decision["chosen"])
    store.add_decision(
        Decision(run=decision["run"], chosen_model=decision["chosen"], epoch=decision["epoch"], policy=POLICY,
                 evidence={k: v for k, v in decision.items() if k not in ("chosen", "epoch", "policy", "run")}),
        chosen_model_id=decision["model_id"],
    )
    return decision
