"""`evalkit judge`: LIMA pairwise, Likert, AlpacaEval or reference-overlap judgments, over files or the store."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from evalkit.cli.commands.common import (
    add_db_flag,
    add_json_flag,
    add_judge_budget_flags,
    add_judge_call_flags,
    judge_server_settings,
    non_negative_int,
)
from evalkit.core.rounding import format_figure

if TYPE_CHECKING:
    from evalkit.jobs.judge import JudgeRequest


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
    add_judge_call_flags(judge, samples_help="single-answer judges: grades per answer (LIMA: 5)")
    calls = parser.add_argument_group("calls")
    add_judge_budget_flags(calls)
    calls.add_argument(
        "--http-retries", type=non_negative_int, default=5, help="client retries on 429/5xx/timeouts, honouring Retry-After"
    )
    calls.add_argument(
        "--max-retries", type=non_negative_int, default=2, help="re-asks of an unreadable reply before it counts invalid"
    )
    calls.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    add_db_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def format_table(summary: dict[str, Any]) -> str:
    """Two aligned columns, one line per number; nested dicts (the score distribution) on one line."""
    from evalkit.core.vocabulary import format_reasons

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


def request_from_args(args: argparse.Namespace) -> JudgeRequest:
    from evalkit.jobs.judge import JudgeRequest

    return JudgeRequest(
        outputs=args.outputs,
        model=args.model,
        baseline=args.baseline,
        baseline_model=args.baseline_model,
        prompts=args.prompts,
        sample=args.sample,
        decoding=args.decoding,
        baseline_decoding=args.baseline_decoding,
        judge=args.judge,
        judge_model=args.judge_model,
        judge_base_url=args.judge_base_url,
        samples=args.samples,
        judge_temperature=args.judge_temperature,
        max_tokens=args.max_tokens,
        concurrency=args.concurrency,
        timeout=args.timeout,
        http_retries=args.http_retries,
        max_retries=args.max_retries,
        max_cost=args.max_cost,
        prices=args.prices,
        progress=args.progress,
        db=args.db,
        server=judge_server_settings(args),
    )


def run(args: argparse.Namespace) -> int:
    from evalkit.jobs.judge import judge_answers

    result = judge_answers(request_from_args(args))
    print(json.dumps(result.as_dict()) if args.json else format_table(dict(result.record)))
    for line in result.failures:
        print(f"evalkit: {line}", file=sys.stderr)
    return 1 if result.failures else 0
