"""Judges by name: the five built-ins, or a YAML spec file for a custom one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.settings import resolve
from evalkit.judges.base import Judge

BUILTIN_JUDGES: tuple[str, ...] = ("pairwise", "likert", "absolute", "alpaca_eval", "reference")
DEFAULT_JUDGE_MODEL = "gpt-4o"
# The built-in judge classes, imported only when needed (alpaca-eval is slow to import).
BUILTIN_CLASSES: dict[str, tuple[str, str]] = {
    "pairwise": ("evalkit.judges.pairwise", "PairwiseJudge"),
    "likert": ("evalkit.judges.likert", "LikertJudge"),
    "absolute": ("evalkit.judges.absolute", "AbsoluteJudge"),
    "alpaca_eval": ("evalkit.judges.alpaca", "AlpacaEvalJudge"),
    "reference": ("evalkit.judges.reference", "ReferenceJudge"),
}


DEFAULT_SAMPLING_TEMPERATURE = 0.7


def sampling_temperature(given: float | None, samples: int) -> float | None:
    """The judge temperature for `samples` grades per answer: several samples at temperature 0 would be
    copies of one grade (and a falsely narrow interval), so K > 1 samples at 0.7 unless told otherwise."""
    if samples <= 1:
        return given
    temperature = DEFAULT_SAMPLING_TEMPERATURE if given is None else given
    if temperature <= 0:
        raise EvalkitError(
            f"{samples} judge samples need a judge temperature above 0 (got {temperature}); "
            "drop --judge-temperature or set it above 0"
        )
    return temperature


def builtin_outputs() -> dict[str, str]:
    """judge_kind -> output for every kind a built-in judge writes, from the classes' declarations
    (imports every class; the results layer reads evalkit.judges.aggregation.BUILTIN_OUTPUTS, which
    tests check equals this)."""
    import importlib

    outputs: dict[str, str] = {}
    for module, name in BUILTIN_CLASSES.values():
        judge_class: type[Judge] = getattr(importlib.import_module(module), name)
        outputs.update({scorer.kind: scorer.output for scorer in judge_class.SCORERS})
    return outputs


def default_judge_name() -> str:
    """pairwise when a judge endpoint is configured; the offline reference judge only when none is."""
    from evalkit.judges.calls import endpoint_configured

    return "pairwise" if endpoint_configured() else "reference"


def _judge_model(given: str | None, fallback: str | None = DEFAULT_JUDGE_MODEL) -> str:
    return str(resolve("judge_model", given, fallback))


def make_judge(
    name_or_spec_path: str,
    *,
    judge_model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    judge_fingerprint: str | None = None,
    **options: Any,
) -> Judge:
    """Build a judge. `judge_model` falls back to EVALKIT_JUDGE_MODEL / config / the judge's default
    (gpt-4o; alpaca_eval: the model its alpaca-eval config names). `judge_fingerprint`: a local judge
    checkpoint's fingerprint (`--judge-checkpoint`), part of the spec hash of every judge that asks a
    model. `options` go to the judge's constructor (e.g. `tie_margin` for the reference judge)."""
    from evalkit.judges.base import LLMJudge

    judge = _build(name_or_spec_path, judge_model=judge_model, temperature=temperature, max_tokens=max_tokens, **options)
    if judge_fingerprint and isinstance(judge, LLMJudge):
        judge.judge_fingerprint = judge_fingerprint
    return judge


def _build(
    name_or_spec_path: str,
    *,
    judge_model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    **options: Any,
) -> Judge:
    sampling: dict[str, Any] = {k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None}
    name = name_or_spec_path
    if name == "pairwise":
        from evalkit.judges.pairwise import PairwiseJudge

        return PairwiseJudge(_judge_model(judge_model), **sampling, **options)
    if name == "likert":
        from evalkit.judges.likert import LikertJudge

        return LikertJudge(_judge_model(judge_model), **sampling, **options)
    if name == "absolute":
        from evalkit.judges.absolute import AbsoluteJudge

        return AbsoluteJudge(_judge_model(judge_model), **sampling, **options)
    if name == "alpaca_eval":
        from evalkit.judges.alpaca import AlpacaEvalJudge

        if "max_tokens" in sampling:
            raise EvalkitError(
                "the alpaca_eval judge reads one token (max_tokens=1 from its alpaca-eval config); drop --max-tokens"
            )
        return AlpacaEvalJudge(resolve("judge_model", judge_model, None), **sampling, **options)
    if name == "reference":
        from evalkit.judges.reference import ReferenceJudge

        return ReferenceJudge(**options)
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        from evalkit.judges.custom import CustomJudge

        return CustomJudge(name, _judge_model(judge_model), **sampling, **options)
    raise EvalkitError(f"unknown judge {name!r}; use one of {', '.join(BUILTIN_JUDGES)} or a spec .yaml file")
