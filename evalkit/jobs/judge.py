"""The judge job (`evalkit judge`, `evalkit.judge(...)`): one judge over one model's answers, against a
baseline's or alone, from answer files or the store; judgments cached, so a re-run asks nothing again.

Everything a user can mistype (numbers, the judge, answer and prompt files, prices) is checked before a
judge server starts or the store is opened, so a typo leaves no new store behind.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError
from evalkit.files.jsonio import json_safe
from evalkit.jobs.local_judge import JudgeServerSettings, served_judge

if TYPE_CHECKING:
    from evalkit.core.records import PromptSet
    from evalkit.judges.base import Judge
    from evalkit.judges.local import ServedJudge
    from evalkit.store import Store

NOTHING_TO_JUDGE = "say what to judge: --outputs model_outputs.json, or --model NAME for a model in the store"


@dataclass(frozen=True)
class JudgeRequest:
    """What to judge (`outputs` file or stored `model`), against what (`baseline` file or `baseline_model`;
    neither: a single-answer judge), with which judge and how its calls are made. None: the default."""

    outputs: str | None = None
    model: str | None = None
    baseline: str | None = None
    baseline_model: str | None = None
    prompts: str | None = None
    sample: int = 0
    decoding: str | None = None
    baseline_decoding: str | None = None
    judge: str | None = None
    judge_model: str | None = None
    judge_base_url: str | None = None
    samples: int = 1
    judge_temperature: float | None = None
    max_tokens: int | None = None
    concurrency: int = 16
    timeout: float = 120.0
    http_retries: int = 5
    max_retries: int = 2
    max_cost: float | None = None
    prices: str | None = None
    progress: bool | None = None  # None: when stderr is a terminal
    db: str | None = None
    server: JudgeServerSettings = field(default_factory=JudgeServerSettings)


@dataclass(frozen=True)
class JudgeResult:
    """The job's counters (`stored`, `cached`, `errors`, ...) and its figures from the results layer
    (win rate and W/T/L against the baseline, or the grade), in the order `evalkit judge` prints them.
    `failures`: what went wrong while judging (the command's exit 1), one line each."""

    record: Mapping[str, Any]
    failures: tuple[str, ...] = ()

    @property
    def stored(self) -> int:
        return int(self.record["stored"])

    @property
    def cached(self) -> int:
        return int(self.record["cached"])

    @property
    def errors(self) -> int:
        return int(self.record["errors"])

    @property
    def win_rate(self) -> float | None:
        """Pairwise judges: the win rate in percent; None for a single-answer judge or no valid verdict."""
        value = self.record.get("win_rate")
        return None if value is None else float(value)

    @property
    def mean(self) -> float | None:
        """Single-answer judges: the mean grade; None for a pairwise judge or no valid grade."""
        value = self.record.get("mean")
        return None if value is None else float(value)

    def as_dict(self) -> dict[str, Any]:
        """The record as `evalkit judge --json` prints it (NaN as null)."""

        data: dict[str, Any] = json_safe(dict(self.record))
        return data


@dataclass(frozen=True)
class _Inputs:
    prompt_set: PromptSet | None
    prices: Any


def judge_answers(request: JudgeRequest) -> JudgeResult:
    """Check the request, serve the judge checkpoint if one is asked for, judge, and summarise."""
    from evalkit.judges.registry import default_judge_name, make_judge, sampling_temperature

    if request.concurrency < 1 or request.max_retries < 0 or request.http_retries < 0 or request.timeout <= 0:
        raise EvalkitError("--concurrency must be >= 1, --max-retries/--http-retries >= 0 and --timeout > 0")
    if request.samples > 1 and (request.baseline or request.baseline_model):
        raise EvalkitError("--samples is for single-answer judges (likert); pairwise judges see each pair in both orders once")
    name = request.judge or ("pairwise" if request.server.judge_checkpoint else default_judge_name())
    temperature = sampling_temperature(request.judge_temperature, request.samples)
    make_judge(name, judge_model=request.judge_model, temperature=temperature, max_tokens=request.max_tokens)  # checked first
    inputs = _read_inputs(request)
    with served_judge(request.server) as served:
        judge = make_judge(
            name,
            judge_model=served.judge_model if served else request.judge_model,
            temperature=temperature,
            max_tokens=request.max_tokens,
            judge_fingerprint=served.fingerprint if served else None,
        )
        return _judge(request, judge, served, inputs)


def _read_inputs(request: JudgeRequest) -> _Inputs:
    """The prompt set and price table, and the answer files checked: every input a user can mistype is
    read before a judge server starts or the store is opened."""
    from evalkit.core.settings import resolve
    from evalkit.jobs.preflight import check_input_file

    check_input_file("--outputs", request.outputs)
    check_input_file("--baseline", request.baseline)
    if not (request.outputs or request.model):
        raise EvalkitError(NOTHING_TO_JUDGE)
    prompt_set = None
    if request.prompts:
        from evalkit.data import load_prompt_set

        prompt_set = load_prompt_set(request.prompts)
    prices_path = resolve("prices", request.prices, None)
    if not prices_path:
        return _Inputs(prompt_set, None)
    from evalkit.judges.pricing import load_price_table

    return _Inputs(prompt_set, load_price_table(prices_path))


def _generation_set(
    store: Store, path: str | None, name: str | None, decoding: str | None, what: str, prefer: str | None = None
) -> tuple[tuple[int, str] | None, set[str] | None]:
    """((model id, decoding hash) or None, prompt hashes it covers or None for all) from a file or a stored name."""
    from evalkit.data.alpaca import import_model_outputs
    from evalkit.store.generation_sets import choose_decoding

    if path and name:
        raise EvalkitError(f"give the {what} as a file or by name, not both")
    if path:
        model_id, prompt_set = import_model_outputs(store, path)
        return (model_id, choose_decoding(store, model_id, path)), {p.hash for p in prompt_set.prompts}
    if name:
        model_id = store.model_id(name)
        return (model_id, choose_decoding(store, model_id, name, decoding, prefer)), None
    return None, None


def _intersect(*scopes: set[str] | None) -> set[str] | None:
    known = [scope for scope in scopes if scope is not None]
    if not known:
        return None
    return set.intersection(*known)


def _judge(request: JudgeRequest, judge: Judge, served: ServedJudge | None, inputs: _Inputs) -> JudgeResult:
    from evalkit.core.settings import db_url
    from evalkit.judges.job_failures import job_failures
    from evalkit.judges.runner import RunOptions, judge_pairs, judge_single
    from evalkit.results.jobs import job_figures
    from evalkit.store import Store

    store = Store(db_url(request.db))
    model, model_scope = _generation_set(store, request.outputs, request.model, request.decoding, "model")
    if model is None:
        raise EvalkitError(NOTHING_TO_JUDGE)
    baseline, baseline_scope = _generation_set(
        store, request.baseline, request.baseline_model, request.baseline_decoding, "baseline", prefer=model[1]
    )
    prompt_scope = None
    if inputs.prompt_set is not None:
        store.save_prompt_set(inputs.prompt_set)
        prompt_scope = {p.hash for p in inputs.prompt_set.prompts}
    scope = _intersect(model_scope, baseline_scope, prompt_scope)
    if scope is not None and not scope:
        raise EvalkitError("no instruction is in all of the given files / prompt set; nothing to judge")
    options = RunOptions(
        base_url=request.judge_base_url,
        concurrency=request.concurrency,
        timeout_s=request.timeout,
        http_retries=request.http_retries,
        max_retries=request.max_retries,
        max_cost=request.max_cost,
        prices=inputs.prices,
        progress=request.progress if request.progress is not None else sys.stderr.isatty(),
        served=served,
    )
    if baseline is not None:
        job = judge_pairs(store, judge, model, baseline, sample=request.sample, prompt_hashes=scope, options=options)
    elif judge.scorer(compares=False) is None:
        raise EvalkitError(f"the {judge.kind} judge compares two answers: add --baseline FILE or --baseline-model NAME")
    else:
        job = judge_single(
            store, judge, model, samples=request.samples, sample=request.sample, prompt_hashes=scope, options=options
        )
    record = {**job, **job_figures(store, job, model, baseline, scope)}
    if record["errors"] and not record["stored"] and not record["cached"]:
        raise EvalkitError(f"every judge request failed ({record['errors']}); first: {record['first_error']}")
    return JudgeResult(MappingProxyType(record), tuple(job_failures(record)))
