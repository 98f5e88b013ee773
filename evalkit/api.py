"""evalkit's Python API: the jobs the command line runs, with typed keyword arguments and typed results.

    import evalkit

    result = evalkit.run("out/run1", epochs=[5, 6], judges=("reference",), db="sqlite:///evalkit.db")
    for row in result.rows:
        print(row.checkpoint, row.win_rate, row.likert)
    decision = evalkit.pick("out/run1", db="sqlite:///evalkit.db")
    print(decision.chosen, decision.reason)

Each function does what its command does (same checks, same store, same figures) and returns what the
command prints, as a frozen record; a bad input raises `evalkit.core.errors.EvalkitError` before any work.
Arguments left at None take the command line's defaults, environment variables included (EVALKIT_DB,
EVALKIT_BACKEND, OPENAI_BASE_URL, EVALKIT_JUDGE_MODEL, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.decision.policy_names import POLICY
from evalkit.jobs.local_judge import JudgeServerSettings

if TYPE_CHECKING:
    from evalkit.core.records import DecodingParams
    from evalkit.decision.evidence import PickEvidence
    from evalkit.decision.stopping_settings import StoppingSettings
    from evalkit.generate.factory import BackendOptions
    from evalkit.jobs.demo import DemoResult
    from evalkit.jobs.evaluation import RunConfig
    from evalkit.jobs.generate import GenerateResult
    from evalkit.jobs.judge import JudgeResult
    from evalkit.jobs.run import RunResult

__all__ = ["demo", "generate_answers", "judge", "pick", "run"]


def run(
    checkpoint: str | Path,
    *,
    epochs: Sequence[int] | None = None,
    prompts: str = "dev",
    baseline: str | None = None,
    judges: Sequence[str] | None = None,
    decoding: DecodingParams | None = None,
    backend: str | BackendOptions | None = None,
    judge_model: str | None = None,
    judge_base_url: str | None = None,
    judge_concurrency: int = 16,
    judge_temperature: float | None = None,
    likert_samples: int = 1,
    max_cost: float | None = None,
    judge_checkpoint: str | None = None,
    db: str | None = None,
    progress: bool = True,
    stop_when_decided: bool = False,
    round_size: int | None = None,
    alpha: float = 0.05,
) -> RunResult:
    """Generate -> judge -> summarise `checkpoint` (one model, or a training output: epochs 5-10 by
    default), as `evalkit run` does; returns its table (`rows`, `records()`), summary and failures.
    `stop_when_decided=True` judges in rounds of `round_size` prompts and stops judging a checkpoint once
    it is decided worse than the best at error rate `alpha` (`--stop-when-decided`; `result.report.stops`).

        result = evalkit.run("out/run1", epochs=[2, 3], judges=("reference",), baseline="run1/base",
                             decoding=evalkit.DecodingParams(max_new_tokens=64))
        best = max(result.rows, key=lambda row: row.win_rate or 0)
    """
    from evalkit.jobs.run import evaluate_run

    config = _run_config(
        prompts, baseline, judges, decoding, backend, judge_model, judge_base_url, judge_concurrency,
        judge_temperature, likert_samples, max_cost, progress, epochs,
        stopping=_stopping(stop_when_decided, round_size, alpha),
    )  # fmt: skip
    return evaluate_run(str(checkpoint), config, db=db, server=_server(judge_checkpoint, judge_model, judge_base_url))


def pick(
    run_dir: str | Path,
    *,
    window: Sequence[int] | None = None,
    policy: str = POLICY,
    prompts: str = "dev",
    baseline: str | None = None,
    judges: Sequence[str] | None = None,
    decoding: DecodingParams | None = None,
    backend: str | BackendOptions | None = None,
    judge_model: str | None = None,
    judge_base_url: str | None = None,
    judge_concurrency: int = 16,
    judge_temperature: float | None = None,
    likert_samples: int = 1,
    max_cost: float | None = None,
    judge_checkpoint: str | None = None,
    db: str | None = None,
    progress: bool = True,
    stop_when_decided: bool = False,
    round_size: int | None = None,
    alpha: float = 0.05,
) -> PickEvidence:
    """Pick the best checkpoint of a training run's `window` (default epochs 5-10), evaluating what the
    store lacks, as `evalkit pick` does: writes RUN/picked.json, the RUN/best link and the store's
    decision, and returns the decision record (`as_dict()` is picked.json).

        decision = evalkit.pick("out/run1", window=[5, 6, 7], db="sqlite:///evalkit.db")
        print(decision.chosen, decision.decided, decision.reason)
    """
    from evalkit.jobs.evaluation import DEFAULT_WINDOW
    from evalkit.jobs.pick import pick_run

    config = _run_config(
        prompts, baseline, judges, decoding, backend, judge_model, judge_base_url, judge_concurrency,
        judge_temperature, likert_samples, max_cost, progress,
        stopping=_stopping(stop_when_decided, round_size, alpha),
    )  # fmt: skip
    return pick_run(
        run_dir,
        config,
        db=db,
        window=tuple(window) if window else DEFAULT_WINDOW,
        policy=policy,
        server=_server(judge_checkpoint, judge_model, judge_base_url),
    )


def judge(
    *,
    outputs: str | None = None,
    model: str | None = None,
    baseline: str | None = None,
    baseline_model: str | None = None,
    judge: str | None = None,
    prompts: str | None = None,
    sample: int = 0,
    decoding: str | None = None,
    baseline_decoding: str | None = None,
    judge_model: str | None = None,
    judge_base_url: str | None = None,
    samples: int = 1,
    judge_temperature: float | None = None,
    max_tokens: int | None = None,
    concurrency: int = 16,
    timeout: float = 120.0,
    http_retries: int = 5,
    max_retries: int = 2,
    max_cost: float | None = None,
    prices: str | None = None,
    judge_checkpoint: str | None = None,
    db: str | None = None,
    progress: bool | None = None,
) -> JudgeResult:
    """Judge one model's answers (an AlpacaEval `outputs` file or a stored `model`) against a `baseline`
    file or `baseline_model`, or alone for single-answer judges, as `evalkit judge` does; returns the
    job's counters and figures (`win_rate`, `mean`, `as_dict()`).

        result = evalkit.judge(model="run1/epoch-5", baseline_model="run1/base", judge="reference")
        print(result.win_rate, result.stored, result.cached)
    """
    from evalkit.jobs.judge import JudgeRequest, judge_answers

    request = JudgeRequest(
        outputs=outputs,
        model=model,
        baseline=baseline,
        baseline_model=baseline_model,
        prompts=prompts,
        sample=sample,
        decoding=decoding,
        baseline_decoding=baseline_decoding,
        judge=judge,
        judge_model=judge_model,
        judge_base_url=judge_base_url,
        samples=samples,
        judge_temperature=judge_temperature,
        max_tokens=max_tokens,
        concurrency=concurrency,
        timeout=timeout,
        http_retries=http_retries,
        max_retries=max_retries,
        max_cost=max_cost,
        prices=prices,
        progress=progress,
        db=db,
        server=_server(judge_checkpoint, judge_model, judge_base_url),
    )
    return judge_answers(request)


def generate_answers(
    checkpoint: str | Path,
    *,
    epochs: Sequence[int] | None = None,
    prompts: str = "dev",
    decoding: DecodingParams | None = None,
    backend: str | BackendOptions | None = None,
    samples: int = 1,
    db: str | None = None,
    out: str | Path | None = None,
) -> GenerateResult:
    """Generate (and store) a checkpoint's answers to a prompt set, as `evalkit generate` does; `out`
    also writes them as AlpacaEval model_outputs.json. (`evalkit.generate` is the engine package.)

        result = evalkit.generate_answers("out/run1/epoch-5", decoding=evalkit.DecodingParams(greedy=True))
        print([(s.model, s.generated, s.skipped) for s in result.summaries])
    """
    from evalkit.core.records import DecodingParams
    from evalkit.jobs.generate import generate_answers_job

    return generate_answers_job(
        str(checkpoint),
        decoding or DecodingParams(),
        _backend(backend),
        epochs=list(epochs) if epochs is not None else None,
        prompts=prompts,
        samples=samples,
        db=db,
        out=Path(out) if out is not None else None,
    )


def demo(
    *,
    model: str = "tiny",
    backend: str = "transformers",
    out: str | Path | None = None,
    max_new_tokens: int = 96,
    judge_checkpoint: str | None = None,
    db: str | None = None,
    log: Callable[[str], Any] | None = None,
) -> DemoResult:
    """The offline demo, as `evalkit demo` does: build (or take SmolLM2) and fine-tune a model, evaluate
    every epoch, pick the best of the window; returns the decision (`pick`) and every epoch's figures.

        result = evalkit.demo(out="demo_out")
        print(result.pick.chosen, [row.win_rate for row in result.trend_figures])
    """
    from evalkit.jobs.demo import demo_job, demo_settings

    settings = demo_settings(model, backend, Path(out) if out is not None else None, max_new_tokens)
    quiet: Callable[..., Any] = lambda *_: None  # noqa: E731
    return demo_job(settings, db_url=db, log=log or quiet, server=JudgeServerSettings(judge_checkpoint=judge_checkpoint))


def _server(checkpoint: str | None, judge_model: str | None, judge_base_url: str | None) -> JudgeServerSettings:
    return JudgeServerSettings(judge_checkpoint=checkpoint, judge_model=judge_model, judge_base_url=judge_base_url)


def _backend(backend: str | BackendOptions | None) -> BackendOptions:
    """The command line's choice for a name or None: EVALKIT_BACKEND, else vLLM where installed; the
    openai backend's server from OPENAI_BASE_URL."""
    from evalkit.core.settings import resolve
    from evalkit.generate.factory import BackendOptions, default_backend

    if isinstance(backend, BackendOptions):
        return backend
    name = str(resolve("backend", backend, None) or default_backend())
    if name in ("vllm", "vllm-server"):
        from evalkit.generate.vllm_backend import check_vllm
        from evalkit.generate.vllm_options import VLLMOptions

        check_vllm(VLLMOptions())  # before any work: one line where vLLM is missing
    return BackendOptions(backend=name, base_url=resolve("base_url", None, None, env=("OPENAI_BASE_URL",)))


def _stopping(stop_when_decided: bool, round_size: int | None, alpha: float) -> StoppingSettings | None:
    """`stop_when_decided=` with its `round_size` and `alpha`, checked as the command line checks them."""
    from evalkit.core.errors import EvalkitError
    from evalkit.decision.stopping_settings import StoppingSettings

    if not stop_when_decided:
        return None
    if not 0.0 < alpha < 1.0:
        raise EvalkitError(f"alpha must be in (0, 1), got {alpha}")
    if round_size is not None and round_size < 1:
        raise EvalkitError(f"round_size must be at least 1, got {round_size}")
    return StoppingSettings(alpha=alpha, round_size=round_size)


def _run_config(
    prompts: str,
    baseline: str | None,
    judges: Sequence[str] | None,
    decoding: DecodingParams | None,
    backend: str | BackendOptions | None,
    judge_model: str | None,
    judge_base_url: str | None,
    judge_concurrency: int,
    judge_temperature: float | None,
    likert_samples: int,
    max_cost: float | None,
    progress: bool,
    epochs: Sequence[int] | None = None,
    stopping: StoppingSettings | None = None,
) -> RunConfig:
    """The RunConfig `evalkit run`'s flags would make (commands.run.config_from_args)."""
    from evalkit.core.records import DecodingParams
    from evalkit.jobs.evaluation import RunConfig

    return RunConfig(
        prompts=prompts,
        baseline=baseline,
        judges=tuple(judges) if judges else None,
        epochs=list(epochs) if epochs is not None else None,
        decoding=decoding or DecodingParams(),
        backend=_backend(backend),
        judge_model=judge_model,
        judge_temperature=judge_temperature,
        judge_options={"concurrency": judge_concurrency, "max_cost": max_cost, "base_url": judge_base_url},
        likert_samples=likert_samples,
        progress=progress,
        stopping=stopping,
    )
