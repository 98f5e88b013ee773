"""`evalkit judge`: LIMA pairwise, Likert, AlpacaEval or reference-overlap judgments, over files or the store."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from evalkit.commands.common import (
    add_db_flag,
    add_json_flag,
    add_judge_checkpoint_flags,
    local_judge,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "judge",
        help="judge answers: pairwise vs a baseline, Likert grades, AlpacaEval win rate",
        description="Judge a model's answers. Judgments are cached in the store: a finished job re-run makes no "
        "requests, an interrupted one resumes. Pairs are matched by instruction.",
    )
    source = parser.add_argument_group("what to judge")
    source.add_argument("--outputs", help="AlpacaEval model_outputs.json of the model to judge")
    source.add_argument("--model", help="instead of --outputs: a model in the store, by name")
    source.add_argument("--baseline", help="AlpacaEval model_outputs.json to compare against")
    source.add_argument("--baseline-model", help="instead of --baseline: a model in the store, by name")
    source.add_argument("--prompts", help="only these prompts (dev, a file); the reference judge reads their reference answers")
    source.add_argument(
        "--sample", type=non_negative_int, default=0, help="which generation sample of each prompt to judge (default 0)"
    )
    source.add_argument(
        "--decoding",
        default=None,
        help="with --model: which of its generation sets (a decoding hash or "
        "prefix; needed when the model has answers under several decoding configurations)",
    )
    source.add_argument("--baseline-decoding", default=None, help="with --baseline-model: which of its generation sets")
    judge = parser.add_argument_group("judge")
    judge.add_argument(
        "--judge",
        default=None,
        help="pairwise | likert | absolute | alpaca_eval | reference | SPEC.yaml "
        "(default: pairwise when a judge endpoint is configured, else reference)",
    )
    judge.add_argument(
        "--judge-model",
        default=None,
        help="model name at the endpoint (env EVALKIT_JUDGE_MODEL; default gpt-4o, alpaca_eval: its config's gpt-4-1106-preview)",
    )
    judge.add_argument(
        "--judge-base-url",
        default=None,
        help="OpenAI-compatible endpoint (env OPENAI_BASE_URL; default OpenAI); the key comes from OPENAI_API_KEY",
    )
    add_judge_checkpoint_flags(judge)
    judge.add_argument("--samples", type=positive_int, default=1, help="single-answer judges: grades per answer (LIMA: 5)")
    judge.add_argument(
        "--judge-temperature",
        "--temperature",
        dest="judge_temperature",
        type=non_negative_float,
        default=None,
        help="judge sampling temperature (default 0; 0.7 with --samples > 1)",
    )
    judge.add_argument("--max-tokens", type=positive_int, default=None, help="reply length limit (default 512; likert 1024)")
    calls = parser.add_argument_group("calls")
    calls.add_argument("--concurrency", type=positive_int, default=16, help="requests in flight (default 16)")
    calls.add_argument("--timeout", type=positive_float, default=120.0, help="seconds per request (default 120)")
    calls.add_argument(
        "--http-retries", type=non_negative_int, default=5, help="client retries on 429/5xx/timeouts, honouring Retry-After"
    )
    calls.add_argument(
        "--max-retries", type=non_negative_int, default=2, help="re-asks of an unreadable reply before it counts invalid"
    )
    calls.add_argument("--max-cost", type=positive_float, default=None, help="USD: stop before this invocation would spend more")
    calls.add_argument("--prices", default=None, help="YAML/JSON price table, USD per 1M tokens (env EVALKIT_PRICES)")
    calls.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    add_db_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def _generation_set(
    store: Any, path: str | None, name: str | None, decoding: str | None, what: str, prefer: str | None = None
) -> tuple[tuple[int, str] | None, set[str] | None]:
    """((model id, decoding hash) or None, prompt hashes it covers or None for all) from a file or a stored name."""
    from evalkit.data.alpaca import import_model_outputs
    from evalkit.errors import EvalkitError
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


def format_table(summary: dict[str, Any]) -> str:
    """Two aligned columns, one line per number; nested dicts (the score distribution) on one line."""
    from evalkit.rounding import format_figure
    from evalkit.vocabulary import format_reasons

    lines = []
    width = max(len(key) for key in summary)
    for key, value in summary.items():
        if isinstance(value, float):
            shown = format_figure(value, 4 if key == "cost_usd" else 2)
        elif value is None:
            shown = "-"
        elif key == "invalid_reasons":
            shown = format_reasons(value) or "-"
        elif isinstance(value, dict):
            shown = "  ".join(f"{k}:{v}" for k, v in value.items()) or "-"
        else:
            shown = str(value)
        lines.append(f"{key.ljust(width)}  {shown}")
    return "\n".join(lines)


def _report(summary: dict[str, Any], as_json: bool) -> int:
    from evalkit.errors import EvalkitError
    from evalkit.job_failures import job_failures
    from evalkit.jsonio import json_safe

    if summary["errors"] and not summary["stored"] and not summary["cached"]:
        raise EvalkitError(f"every judge request failed ({summary['errors']}); first: {summary['first_error']}")
    print(json.dumps(json_safe(summary)) if as_json else format_table(summary))
    failures = job_failures(summary)
    for line in failures:
        print(f"evalkit: {line}", file=sys.stderr)
    return 1 if failures else 0


def run(args: argparse.Namespace) -> int:
    from evalkit.errors import EvalkitError
    from evalkit.judges.registry import default_judge_name, make_judge, sampling_temperature

    if args.concurrency < 1 or args.max_retries < 0 or args.http_retries < 0 or args.timeout <= 0:
        raise EvalkitError("--concurrency must be >= 1, --max-retries/--http-retries >= 0 and --timeout > 0")
    if args.samples > 1 and (args.baseline or args.baseline_model):
        raise EvalkitError("--samples is for single-answer judges (likert); pairwise judges see each pair in both orders once")
    name = args.judge or ("pairwise" if args.judge_checkpoint else default_judge_name())
    temperature = sampling_temperature(args.judge_temperature, args.samples)
    make_judge(name, judge_model=args.judge_model, temperature=temperature, max_tokens=args.max_tokens)  # checked first
    inputs = _read_inputs(args)
    with local_judge(args) as served:
        return _judge(args, name, temperature, served, inputs)


def _read_inputs(args: argparse.Namespace) -> tuple[Any, Any]:
    """(prompt set or None, price table or None), and the answer files checked: every input a user can
    mistype is read before a judge server starts or the store is opened (a typo leaves no new store)."""
    from evalkit.errors import EvalkitError
    from evalkit.settings import resolve
    from evalkit.validation import check_input_file

    check_input_file("--outputs", args.outputs)
    check_input_file("--baseline", args.baseline)
    if not (args.outputs or args.model):
        raise EvalkitError("say what to judge: --outputs model_outputs.json, or --model NAME for a model in the store")
    prompt_set = None
    if args.prompts:
        from evalkit.data import load_prompt_set

        prompt_set = load_prompt_set(args.prompts)
    prices_path = resolve("prices", args.prices, None)
    if not prices_path:
        return prompt_set, None
    from evalkit.judges.pricing import load_price_table

    return prompt_set, load_price_table(prices_path)


def _judge(args: argparse.Namespace, name: str, temperature: float | None, served: Any, inputs: tuple[Any, Any]) -> int:
    from evalkit.errors import EvalkitError
    from evalkit.judges.registry import make_judge
    from evalkit.judges.runner import RunOptions, judge_pairs, judge_single
    from evalkit.settings import db_url
    from evalkit.store import Store

    prompt_set, prices = inputs

    judge = make_judge(
        name,
        judge_model=served.judge_model if served else args.judge_model,
        temperature=temperature,
        max_tokens=args.max_tokens,
        judge_fingerprint=served.fingerprint if served else None,
    )
    store = Store(db_url(args.db))
    model, model_scope = _generation_set(store, args.outputs, args.model, args.decoding, "model")
    if model is None:
        raise EvalkitError("say what to judge: --outputs model_outputs.json, or --model NAME for a model in the store")
    baseline, baseline_scope = _generation_set(
        store, args.baseline, args.baseline_model, args.baseline_decoding, "baseline", prefer=model[1]
    )
    prompt_scope = None
    if prompt_set is not None:
        store.save_prompt_set(prompt_set)
        prompt_scope = {p.hash for p in prompt_set.prompts}
    scope = _intersect(model_scope, baseline_scope, prompt_scope)
    if scope is not None and not scope:
        raise EvalkitError("no instruction is in all of the given files / prompt set; nothing to judge")
    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    options = RunOptions(
        base_url=args.judge_base_url,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        http_retries=args.http_retries,
        max_retries=args.max_retries,
        max_cost=args.max_cost,
        prices=prices,
        progress=progress,
        served=served,
    )
    if baseline is not None:
        job = judge_pairs(store, judge, model, baseline, sample=args.sample, prompt_hashes=scope, options=options)
    elif judge.scorer(compares=False) is None:
        raise EvalkitError(f"the {judge.kind} judge compares two answers: add --baseline FILE or --baseline-model NAME")
    else:
        job = judge_single(store, judge, model, samples=args.samples, sample=args.sample, prompt_hashes=scope, options=options)
    from evalkit.results.jobs import job_figures

    return _report({**job, **job_figures(store, job, model, baseline, scope)}, args.json)
