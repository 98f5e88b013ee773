"""`evalkit run`: generate -> judge -> statistics -> store, for one checkpoint or a training run's window.

Every stage skips what the store already holds, so a re-run of finished work makes no generation and
no judge request. A broken checkpoint is reported and skipped; the others complete.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.data import load_prompt_set
from evalkit.data.alpaca import import_model_outputs
from evalkit.data.references import import_references
from evalkit.errors import EvalkitError
from evalkit.generate.checkpoint import Checkpoint, find_checkpoints
from evalkit.generate.factory import BackendOptions, make_generator
from evalkit.generate.runner import generate_for_checkpoint, register_checkpoint
from evalkit.records import DecodingParams, PromptSet
from evalkit.store import Store

log = logging.getLogger(__name__)
DEFAULT_WINDOW = tuple(range(5, 11))
REFERENCE_AS_BASELINE = ("the reference-overlap judge scores answers by their overlap with the reference answers, so those "
                         "cannot also be its baseline; pass --baseline FILE or MODEL (e.g. the base model's outputs)")


@dataclass
class RunConfig:
    prompts: str = "dev"
    baseline: str | None = None  # a model_outputs.json, or a model name in the store; default: the set's references
    judges: tuple[str, ...] | None = None  # default: pairwise+likert with a judge endpoint, else reference
    epochs: list[int] | None = None
    decoding: DecodingParams = field(default_factory=DecodingParams)
    backend: BackendOptions = field(default_factory=BackendOptions)
    judge_model: str | None = None
    judge_options: dict[str, Any] = field(default_factory=dict)  # judges.runner.RunOptions fields
    likert_samples: int = 1
    progress: bool = True


@dataclass
class CheckpointOutcome:
    checkpoint: Checkpoint
    model_id: int | None = None
    error: str | None = None
    judged: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class RunReport:
    prompt_set: PromptSet
    baseline_id: int
    baseline_name: str
    judges: tuple[str, ...]
    outcomes: list[CheckpointOutcome]

    @property
    def model_ids(self) -> list[int]:
        return [o.model_id for o in self.outcomes if o.model_id is not None and o.error is None]


def default_judges(judge_base_url: str | None = None) -> tuple[str, ...]:
    """LLM judges whenever a judge endpoint is configured; the offline reference judge only when none is."""
    from evalkit.judges.calls import endpoint_configured

    return ("pairwise", "likert") if judge_base_url or endpoint_configured() else ("reference",)


def base_model_of(target: str) -> Path | None:
    """The base model a training run started from (`train_run.json`), when it is still there."""
    record = Path(target) / "train_run.json"
    if not record.is_file():
        return None
    try:
        base = json.loads(record.read_text()).get("base_model")
    except json.JSONDecodeError:
        return None
    return Path(base) if base and (Path(base) / "config.json").is_file() else None


def resolve_baseline(store: Store, spec: str | None, prompt_set: PromptSet, judges: tuple[str, ...], target: str,
                     config: "RunConfig") -> int:
    """--baseline FILE or MODEL; else the set's reference answers — except for the reference-overlap
    judge, which scores against those references: it compares with the run's untrained base model."""
    if spec is not None:
        return import_model_outputs(store, spec)[0] if Path(spec).is_file() else store.model_id(spec)
    if "reference" not in judges:
        return import_references(store, prompt_set)
    base = base_model_of(target)
    checkpoint = Checkpoint(path=base, name=f"{Path(target).resolve().name}/base") if base else None
    if checkpoint is None:
        raise EvalkitError(REFERENCE_AS_BASELINE)
    return generate_for_checkpoint(store, checkpoint, prompt_set, config.decoding, lambda: make_generator(checkpoint, config.backend),
                                   progress=config.progress).model_id


def select_checkpoints(target: str, epochs: list[int] | None) -> list[Checkpoint]:
    """A training run defaults to LIMA's selection window, epochs 5-10."""
    root = Path(target)
    if epochs is None and root.is_dir() and not (root / "config.json").is_file():
        return find_checkpoints(root, list(DEFAULT_WINDOW))
    return find_checkpoints(root, epochs)


def _judge_checkpoint(store: Store, model_id: int, baseline_id: int, judges: tuple[str, ...], config: RunConfig,
                      prompt_hashes: set[str]) -> dict[str, dict[str, Any]]:
    from evalkit.judges.registry import make_judge
    from evalkit.judges.runner import RunOptions, judge_pairs, judge_single

    options = RunOptions(progress=config.progress, **config.judge_options)
    results: dict[str, dict[str, Any]] = {}
    for name in judges:
        judge = make_judge(name, judge_model=config.judge_model)
        if judge.mode == "pairwise":
            results[judge.kind] = judge_pairs(store, judge, model_id, baseline_id, prompt_hashes=prompt_hashes, options=options)
        single_kind = getattr(judge, "single_kind", None)
        if judge.mode == "single" or single_kind:
            kind = single_kind or judge.kind
            results[kind] = judge_single(store, judge, model_id, samples=config.likert_samples, prompt_hashes=prompt_hashes, options=options)
    return results


def run_evaluation(store: Store, target: str, config: RunConfig) -> RunReport:
    # Everything a user can get wrong is checked before the first write to the store.
    checkpoints = select_checkpoints(target, config.epochs)
    prompt_set = load_prompt_set(config.prompts)
    judges = config.judges or default_judges(config.judge_options.get("base_url"))
    if config.baseline is None and "reference" in judges and base_model_of(target) is None:
        raise EvalkitError(REFERENCE_AS_BASELINE)
    store.save_prompt_set(prompt_set)
    baseline_id = resolve_baseline(store, config.baseline, prompt_set, judges, target, config)
    baseline_name = str(store.models().set_index("id").loc[baseline_id, "name"])
    prompt_hashes = {p.hash for p in prompt_set.prompts}
    if config.backend.workers is not None:  # generate on Ray tasks first; the loop below finds the answers stored
        from evalkit.generate.scaleout import generate_on_ray

        generate_on_ray(store.url, checkpoints, prompt_set, config.decoding, config.backend, progress=config.progress)
    outcomes = []
    for checkpoint in checkpoints:
        outcome = CheckpointOutcome(checkpoint)
        outcomes.append(outcome)
        try:
            outcome.model_id = register_checkpoint(store, checkpoint)
            generate_for_checkpoint(store, checkpoint, prompt_set, config.decoding,
                                    lambda c=checkpoint: make_generator(c, config.backend),
                                    model_id=outcome.model_id, progress=config.progress)
        except EvalkitError as exc:  # a broken checkpoint must not sink the others
            outcome.error = str(exc)
            log.warning("skipping %s: %s", checkpoint.name, exc)
            continue
        outcome.judged = _judge_checkpoint(store, outcome.model_id, baseline_id, judges, config, prompt_hashes)
    if not any(o.error is None for o in outcomes):
        raise EvalkitError("every checkpoint failed: " + "; ".join(f"{o.checkpoint.name}: {o.error}" for o in outcomes))
    return RunReport(prompt_set, baseline_id, baseline_name, judges, outcomes)


def comparison_table(store: Store, kind: str) -> pd.DataFrame:
    """Per-prompt results of a judge that compares with the baseline: AlpacaEval's weighted preference,
    or a both-orders pairwise verdict (LIMA's judge, the reference judge, custom pairwise specs)."""
    from evalkit.judges.results import alpaca_table, pairwise_table

    return alpaca_table(store, kind) if kind == "alpaca_eval" else pairwise_table(store, kind)


def summary_table(store: Store, report: RunReport) -> pd.DataFrame:
    """One row per checkpoint: win rate vs the baseline with its SE and W/T/L, Likert mean with CI."""
    from evalkit.judges.results import likert_table
    from evalkit.stats.summary import summarize_likert, summarize_pairwise

    hashes = {p.hash for p in report.prompt_set.prompts}
    by_model: dict[int, dict[str, Any]] = {}  # two checkpoints with identical weights are one model
    pairwise_kind = next((k for k in ("pairwise", "alpaca_eval", "reference") if k in report.judges), None)
    likert_kind = "likert" if "likert" in report.judges else ("reference_likert" if "reference" in report.judges else None)
    if pairwise_kind:
        table = scope_rows(comparison_table(store, pairwise_kind), report, hashes, baseline=True, kind=pairwise_kind)
        for row in summarize_pairwise(table, length_controlled=False).itertuples():
            by_model.setdefault(int(row.model_id), {}).update(
                {"judge": pairwise_kind, "n": row.n, "win_rate": row.win_rate, "se": row.standard_error,
                 "win%": row.win_pct, "tie%": row.tie_pct, "loss%": row.loss_pct, "invalid": row.n_invalid})
    if likert_kind:
        table = scope_rows(likert_table(store, likert_kind), report, hashes, baseline=False, kind=likert_kind)
        for row in summarize_likert(table).itertuples():
            by_model.setdefault(int(row.model_id), {}).update(
                {"likert": row.mean, "likert_ci": f"[{row.ci_low:.2f}, {row.ci_high:.2f}]", "likert_invalid": row.n_invalid})
    rows = []
    for outcome in report.outcomes:
        row = {"checkpoint": outcome.checkpoint.name, "status": "ok" if outcome.error is None else "skipped: " + outcome.error}
        if outcome.error is None and outcome.model_id is not None:
            row.update(by_model.get(outcome.model_id, {}))
        rows.append(row)
    return pd.DataFrame(rows)


def scope_rows(table: pd.DataFrame, report: RunReport, hashes: set[str], baseline: bool, kind: str) -> pd.DataFrame:
    """This run's rows: its checkpoints, prompts, baseline, and the judge (model and spec) it used."""
    mask = table["model_id"].isin(report.model_ids) & table["prompt_hash"].isin(hashes)
    if baseline:
        mask &= table["baseline_id"] == report.baseline_id
    used = next((o.judged[kind] for o in report.outcomes if kind in o.judged), None)
    if used is not None:
        mask &= (table["judge_model"] == used["judge_model"]) & table["judge_spec_hash"].str.startswith(used["spec_hash"])
    return table[mask]
