"""`evalkit run`: generate -> judge -> statistics -> store, for one checkpoint or a training run's window.

A run is about one generation set per checkpoint: the checkpoint's answers under the decoding it
was asked for. It judges exactly those answers and its table reads exactly those judgments (through
the results layer), so running another decoding configuration later changes none of this run's
figures. Every stage skips what the store already holds, so a re-run of finished work makes no
generation and no judge request. A broken checkpoint is reported and skipped; the others complete.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams, GenerationSetKey, JudgeIdentity, PromptSet
from evalkit.data import load_prompt_set
from evalkit.data.alpaca import import_model_outputs
from evalkit.data.references import import_references
from evalkit.decision.stopping_settings import StoppingSettings
from evalkit.generate.checkpoint import Checkpoint, find_checkpoints
from evalkit.generate.factory import BackendOptions, effective_decoding, make_generator
from evalkit.generate.runner import generate_for_checkpoint, register_checkpoint
from evalkit.jobs.stopping import CheckpointStop, judge_in_rounds
from evalkit.judges.base import Judge
from evalkit.results.combined import store_combined, summary_with_combined
from evalkit.results.summary import Scope, Summary, summarize
from evalkit.results.tables import read_tables
from evalkit.stats.length_controlled import LC_FIELDS
from evalkit.store import Store
from evalkit.store.provenance import finish_run, start_run

if TYPE_CHECKING:
    from evalkit.judges.local import ServedJudge

log = logging.getLogger(__name__)
DEFAULT_WINDOW = tuple(range(5, 11))
REFERENCE_AS_BASELINE = (
    "the reference-overlap judge scores answers by their overlap with the reference answers, so those "
    "cannot also be its baseline; pass --baseline FILE or MODEL (e.g. the base model's outputs)"
)


@dataclass
class RunConfig:
    prompts: str = "dev"
    baseline: str | None = None  # a model_outputs.json, or a model name in the store; default: the set's references
    judges: tuple[str, ...] | None = None  # default: pairwise+likert with a judge endpoint, else reference
    epochs: list[int] | None = None
    decoding: DecodingParams = field(default_factory=DecodingParams)
    backend: BackendOptions = field(default_factory=BackendOptions)
    judge_model: str | None = None
    judge_temperature: float | None = None  # None: the judge's default (0; 0.7 for several samples)
    judge_options: dict[str, Any] = field(default_factory=dict)  # judges.runner.RunOptions fields
    likert_samples: int = 1
    judge_max_tokens: int | None = None  # None: each judge's own reply limit (pairwise 512, likert 1024)
    progress: bool = True
    served_judge: ServedJudge | None = None  # --judge-checkpoint: the judge checkpoint served for this run
    stopping: StoppingSettings | None = None  # --stop-when-decided: judge in rounds, stop each checkpoint once decided

    def record(self, judges: list[Judge]) -> dict[str, Any]:
        """What the run was asked, for the store's run record (no endpoints: they may carry credentials)."""
        served = self.served_judge
        local = {"path": served.checkpoint, "fingerprint": served.fingerprint, "server": served.server} if served else None
        return {
            **({"judge_checkpoint": local} if local else {}),
            "prompts": self.prompts,
            "baseline": self.baseline,
            "epochs": self.epochs,
            "decoding": self.decoding.as_dict(),
            "decoding_hash": self.decoding.hash,
            "likert_samples": self.likert_samples,
            "judges": [{"kind": j.kind, "judge_model": j.judge_model, "spec_hash": j.spec_hash} for j in judges],
            **({"stop_when_decided": asdict(self.stopping)} if self.stopping else {}),
        }


@dataclass
class CheckpointOutcome:
    checkpoint: Checkpoint
    model_id: int | None = None
    decoding_hash: str | None = None
    error: str | None = None
    jobs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def generation_set(self) -> GenerationSetKey | None:
        if self.error is not None or self.model_id is None or self.decoding_hash is None:
            return None
        return GenerationSetKey(self.model_id, self.decoding_hash)


@dataclass
class RunReport:
    prompt_set: PromptSet
    baseline: GenerationSetKey
    baseline_name: str
    judges: list[Judge]
    outcomes: list[CheckpointOutcome]
    run_id: int
    stops: list[CheckpointStop] = field(default_factory=list)  # --stop-when-decided: checkpoints judged on fewer prompts

    @property
    def generation_sets(self) -> list[GenerationSetKey]:
        return [s for s in (o.generation_set for o in self.outcomes) if s is not None]

    def headline(self, compares: bool) -> JudgeIdentity | None:
        """The judge whose figure heads the table: the first of --judges that compares with the
        baseline (win rate), or that grades single answers (grade)."""
        return headline_judge(self.judges, compares)

    def scope(self) -> Scope:
        keys = {JudgeIdentity(s.kind, j.judge_model, j.spec_hash) for j in self.judges for s in j.scorers()}
        return Scope(
            prompt_hashes=frozenset(p.hash for p in self.prompt_set.prompts),
            generation_sets=frozenset(self.generation_sets),
            judges=frozenset(keys),
            baseline=self.baseline,
        )


def headline_judge(judges: list[Judge], compares: bool) -> JudgeIdentity | None:
    """The first judge of `judges` that compares with the baseline (`compares`) or grades single answers."""
    for judge in judges:
        scorer = judge.scorer(compares)
        if scorer is not None:
            return JudgeIdentity(scorer.kind, judge.judge_model, judge.spec_hash)
    return None


def default_judges(judge_base_url: str | None = None, *, local: bool = False) -> tuple[str, ...]:
    """LLM judges whenever a judge endpoint is configured or a judge checkpoint is served (`local`); the
    offline reference judge only when neither is."""
    from evalkit.judges.calls import endpoint_configured

    return ("pairwise", "likert") if local or judge_base_url or endpoint_configured() else ("reference",)


def build_judges(config: RunConfig) -> list[Judge]:
    """Every judge of the run, built (and so checked) before any work starts."""
    from evalkit.judges.registry import make_judge, sampling_temperature

    served = config.served_judge
    names = config.judges or default_judges(config.judge_options.get("base_url"), local=served is not None)
    model = served.judge_model if served else config.judge_model
    fingerprint = served.fingerprint if served else None
    judges = []
    for name in names:
        limit = None if name == "alpaca_eval" else config.judge_max_tokens  # alpaca_eval reads one token
        common = {"judge_model": model, "judge_fingerprint": fingerprint, "max_tokens": limit}
        judge = make_judge(name, temperature=config.judge_temperature, **common)
        if config.likert_samples > 1 and judge.scorer(compares=False) is not None and judge.samples_independently:
            temperature = sampling_temperature(config.judge_temperature, config.likert_samples)
            judge = make_judge(name, temperature=temperature, **common)
        judges.append(judge)
    return judges


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


def _generate(store: Store, checkpoint: Checkpoint, prompt_set: PromptSet, config: RunConfig, model_id: int) -> GenerationSetKey:
    """Generate what is missing, first saying so when the model's stored answers are all under other
    decoding settings (the base model as much as every epoch: a silent regeneration at other settings
    looks like a re-run that found nothing done)."""
    decoding = effective_decoding(config.backend, config.decoding)
    note = note_other_decodings(store, model_id, checkpoint.name, decoding)
    if note and config.progress:
        print(note, file=sys.stderr)
    summary = generate_for_checkpoint(
        store,
        checkpoint,
        prompt_set,
        decoding,
        lambda: make_generator(checkpoint, config.backend),
        model_id=model_id,
        progress=config.progress,
    )
    return GenerationSetKey(summary.model_id, summary.decoding_hash)


def resolve_baseline(
    store: Store,
    spec: str | None,
    prompt_set: PromptSet,
    judges: list[Judge],
    target: str,
    config: RunConfig,
    base_model: Path | None = None,
) -> GenerationSetKey:
    """--baseline FILE or MODEL; else the set's reference answers — except for a judge that scores
    against those references (the reference-overlap judge): it compares with the run's untrained base
    model (`base_model`, else the one the run's record names), generated under the run's decoding."""
    from evalkit.store.generation_sets import choose_decoding

    if spec is not None:
        if Path(spec).is_file():
            model_id = import_model_outputs(store, spec)[0]
        elif spec in set(store.models()["name"]):
            model_id = store.model_id(spec)
        else:
            raise EvalkitError(f"--baseline {spec}: no such file and no model of that name in the store")
        return GenerationSetKey(
            model_id, choose_decoding(store, model_id, spec, prefer=effective_decoding(config.backend, config.decoding).hash)
        )
    if not any(judge.reads_references for judge in judges):
        model_id = import_references(store, prompt_set)
        return GenerationSetKey(model_id, choose_decoding(store, model_id, prompt_set.name))
    base = base_model or base_model_of(target)
    if base is None:
        raise EvalkitError(REFERENCE_AS_BASELINE)
    checkpoint = Checkpoint(path=base, name=f"{Path(target).resolve().name}/base")
    return _generate(store, checkpoint, prompt_set, config, register_checkpoint(store, checkpoint))


def prepare_evaluation(store: Store, target: str, config: RunConfig, base_model: Path) -> None:
    """What every checkpoint of a training run shares, done before the first one lands (evaluation while
    training): the prompt set stored, the judges built (their imports paid), the baseline's answers
    generated (`base_model`: the run's base, which its record names only once training has started).
    The runs that follow find all of it stored and start at the checkpoint."""
    prompt_set = load_prompt_set(config.prompts)
    judges = build_judges(config)
    store.save_prompt_set(prompt_set)
    resolve_baseline(store, config.baseline, prompt_set, judges, target, config, base_model)


def select_checkpoints(target: str, epochs: list[int] | None) -> list[Checkpoint]:
    """A training run defaults to LIMA's selection window, epochs 5-10."""
    root = Path(target)
    if epochs is None and root.is_dir() and not (root / "config.json").is_file():
        return find_checkpoints(root, list(DEFAULT_WINDOW))
    return find_checkpoints(root, epochs)


def note_other_decodings(store: Store, model_id: int, name: str, decoding: DecodingParams) -> str | None:
    """ "50 answers stored under max_new_tokens=96; generating under max_new_tokens=2048" when the model
    has answers under other decoding configurations only: they are kept and never mixed in."""
    frame = store.generations(model_id=model_id)
    if frame.empty or decoding.hash in set(frame["decoding_hash"]):
        return None
    from evalkit.core.decoding_labels import changed_parameters

    wanted = decoding.as_dict()
    notes = []
    for _, rows in frame.groupby("decoding_hash", sort=False):
        stored = dict(rows["decoding"].iloc[0] or {})
        notes.append(f"{len(rows)} answers stored under {changed_parameters(stored, wanted)}")
    now = changed_parameters(wanted, dict(frame["decoding"].iloc[0] or {}))
    return f"{name}: {'; '.join(notes)}; generating under {now} (kept apart: a result is about one decoding)"


def _judge_checkpoint(
    store: Store,
    model: GenerationSetKey,
    baseline: GenerationSetKey,
    judges: list[Judge],
    config: RunConfig,
    prompt_hashes: set[str],
    stored_before: int = 0,
) -> list[dict[str, Any]]:
    """The checkpoint's judge jobs. `stored_before`: judgments this run stored for earlier checkpoints,
    so an endpoint lost now is reported with everything the run stored (exit 1), not as bad input."""
    from evalkit.judges.job_failures import lost_mid_job
    from evalkit.judges.runner import RunOptions, judge_pairs, judge_single

    options = RunOptions(progress=config.progress, served=config.served_judge, **config.judge_options)
    jobs: list[dict[str, Any]] = []
    try:
        for judge in judges:
            if judge.scorer(compares=True) is not None:
                jobs.append(judge_pairs(store, judge, model, baseline, prompt_hashes=prompt_hashes, options=options))
            if judge.scorer(compares=False) is not None:
                samples = config.likert_samples
                jobs.append(judge_single(store, judge, model, samples=samples, prompt_hashes=prompt_hashes, options=options))
    except EvalkitError as exc:
        raise lost_mid_job(exc, stored_before + sum(job["stored"] for job in jobs)) from None
    return jobs


def run_evaluation(store: Store, target: str, config: RunConfig, command: str = "run") -> RunReport:
    # Everything a user can get wrong is checked before the first write to the store.
    checkpoints = select_checkpoints(target, config.epochs)
    if config.backend.backend in ("vllm", "vllm-server"):
        from evalkit.generate.vllm_backend import check_context_length

        check_context_length(config.backend.vllm, [checkpoint.path for checkpoint in checkpoints])
    prompt_set = load_prompt_set(config.prompts)
    judges = build_judges(config)
    if config.baseline is None and any(j.reads_references for j in judges) and base_model_of(target) is None:
        raise EvalkitError(REFERENCE_AS_BASELINE)
    store.save_prompt_set(prompt_set)
    run_id = start_run(store, command, config.record(judges))
    try:
        report = _evaluate(store, run_id, target, checkpoints, prompt_set, judges, config)
    except BaseException as exc:  # Ctrl-C, SIGTERM (raised as an interrupt by the CLI) or an error: the run has ended
        _record_end(store, run_id, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        raise
    failed = not any(o.error is None for o in report.outcomes)
    _record_end(store, run_id, "failed" if failed else "finished")
    if failed:
        raise EvalkitError("every checkpoint failed: " + "; ".join(f"{o.checkpoint.name}: {o.error}" for o in report.outcomes))
    return report


def _record_end(store: Store, run_id: int, status: str) -> None:
    """The run's end in the store; a store that cannot take it (locked, gone) must not hide why the run ended."""
    try:
        finish_run(store, run_id, status)
    except Exception as exc:
        log.warning("could not record run %d as %s: %s", run_id, status, exc)


def _evaluate(
    store: Store,
    run_id: int,
    target: str,
    checkpoints: list[Checkpoint],
    prompt_set: PromptSet,
    judges: list[Judge],
    config: RunConfig,
) -> RunReport:
    baseline = resolve_baseline(store, config.baseline, prompt_set, judges, target, config)
    baseline_name = str(store.models().set_index("id").loc[baseline[0], "name"])
    prompt_hashes = {p.hash for p in prompt_set.prompts}
    if config.backend.workers is not None:  # generate on Ray tasks first; the loop below finds the answers stored
        from evalkit.generate.scaleout import generate_on_ray

        generate_on_ray(
            store.url,
            checkpoints,
            prompt_set,
            effective_decoding(config.backend, config.decoding),
            config.backend,
            progress=config.progress,
        )
    outcomes: list[CheckpointOutcome] = []

    def judge(outcome: CheckpointOutcome, prompts: set[str]) -> list[dict[str, Any]]:
        model = outcome.generation_set
        assert model is not None
        stored = sum(job["stored"] for done in outcomes for job in done.jobs)
        return _judge_checkpoint(store, model, baseline, judges, _budget_left(config, outcome), prompts, stored)

    for checkpoint in checkpoints:
        outcome = _generated(store, checkpoint, prompt_set, config)
        outcomes.append(outcome)
        if outcome.error is None and config.stopping is None:
            outcome.jobs = judge(outcome, prompt_hashes)
    if config.stopping is None:
        return RunReport(prompt_set, baseline, baseline_name, judges, outcomes, run_id)
    # Every checkpoint generated first: each round judges all those still in contention.
    order = [p.hash for p in prompt_set.prompts]
    headline = headline_judge(judges, True)
    seed = config.decoding.seed
    stops = judge_in_rounds(store, outcomes, order, headline, baseline, config.stopping, seed, judge, config.progress)
    return RunReport(prompt_set, baseline, baseline_name, judges, outcomes, run_id, stops)


def _generated(store: Store, checkpoint: Checkpoint, prompt_set: PromptSet, config: RunConfig) -> CheckpointOutcome:
    """The checkpoint registered and its answers generated; a broken one comes back with its error."""
    outcome = CheckpointOutcome(checkpoint)
    try:
        outcome.model_id = register_checkpoint(store, checkpoint)
        _, outcome.decoding_hash = _generate(store, checkpoint, prompt_set, config, outcome.model_id)
    except EvalkitError as exc:  # a broken checkpoint must not sink the others
        outcome.error = str(exc)
        log.warning("skipping %s: %s", checkpoint.name, exc)
    return outcome


def _budget_left(config: RunConfig, outcome: CheckpointOutcome) -> RunConfig:
    """--max-cost covers a judge job of this invocation however many rounds it is asked in: each round
    gets what the checkpoint's costliest job has left (the same config when no round came before)."""
    limit = config.judge_options.get("max_cost")
    if limit is None or not outcome.jobs:
        return config
    spent = max(job.get("cost_usd", 0.0) for job in outcome.jobs)
    return replace(config, judge_options={**config.judge_options, "max_cost": max(limit - spent, 0.0)})


def run_summary(store: Store, report: RunReport) -> Summary:
    """The results layer's summary of exactly this run's judgments, length-controlled win rates included,
    with the combined (human + judge) win rate beside rows that have human labels: one read of the
    judgments for both."""
    tables, scope = read_tables(store, instructions=False), report.scope()
    return summary_with_combined(summarize(tables, scope, length_controlled=True), store_combined(store, tables, scope))


def summary_table(store: Store, report: RunReport, summary: Summary | None = None) -> pd.DataFrame:
    """One row per checkpoint: the headline judge's win rate vs the baseline with its SE and W/T/L, its
    length-controlled win rate (with SE, variant, or why it is withheld), the combined (human + judge,
    PPI++) win rate with its 95% interval and labelled prompts where the checkpoint has human labels
    (columns only when one has), and the headline grade with its 95% interval — read from the run's summary."""
    summary = summary or run_summary(store, report)
    compare_judge, grade_judge = report.headline(True), report.headline(False)
    rows = []
    for outcome in report.outcomes:
        row: dict[str, Any] = {
            "checkpoint": outcome.checkpoint.name,
            "status": "ok" if outcome.error is None else "skipped: " + outcome.error,
            "decoding": outcome.decoding_hash,
        }
        model = outcome.generation_set
        found = summary.row(True, compare_judge, model) if model and compare_judge else None
        if found:
            row.update(
                {
                    "judge": found["judge_kind"],
                    "n": found["n"],
                    "win_rate": found["win_rate"],
                    "standard_error": found["standard_error"],
                    "win%": found["win_pct"],
                    "tie%": found["tie_pct"],
                    "loss%": found["loss_pct"],
                    "invalid": found["n_invalid"],
                    "invalid_reasons": found.get("invalid_reasons") or {},
                    **{field: found.get(field) for field in LC_FIELDS},
                }
            )
            if pd.notna(found.get("combined")):
                row.update({field: found[field] for field in ("combined", "combined_ci_low", "combined_ci_high", "n_humans")})
        grade = summary.row(False, grade_judge, model) if model and grade_judge else None
        if grade:
            row.update(
                {
                    "likert_judge": grade["judge_kind"],
                    "likert": grade["mean"],
                    "likert_ci_low": grade["ci_low"],
                    "likert_ci_high": grade["ci_high"],
                    "likert_invalid": grade["n_invalid"],
                    "likert_invalid_reasons": grade.get("invalid_reasons") or {},
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)
