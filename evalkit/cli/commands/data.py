"""`evalkit data`: the seed papers' data tools over dialog JSONL (the training format).

expand / lengthen / tag call an OpenAI-compatible model with a store-backed cache (a re-run pays for
nothing it has); sample / dedup / stats are local. Every tool writes a file `evalkit train` accepts and
reports what it did on stdout (--json: one object); progress and cost go to stderr.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.cli.commands.common import add_db_flag, add_json_flag, out_path
from evalkit.files.jsonio import json_safe

if TYPE_CHECKING:
    from evalkit.jobs.data import DataToolResult, GeneratorRequest


def _add_llm_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("generator model (any OpenAI-compatible endpoint)")
    group.add_argument("--model", default=None, help="generator model name (env EVALKIT_DATA_MODEL)")
    group.add_argument(
        "--base-url", default=None, help="endpoint URL (env EVALKIT_JUDGE_BASE_URL / OPENAI_BASE_URL; default OpenAI)"
    )
    group.add_argument("--temperature", type=float, default=0.7)
    group.add_argument("--max-tokens", type=int, default=2048)
    group.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    group.add_argument("--max-cost", type=float, default=None, help="USD budget for this invocation")
    group.add_argument("--prices", default=None, help="YAML/JSON price table, USD per 1M tokens (env EVALKIT_PRICES)")
    group.add_argument("--no-progress", action="store_true")
    add_db_flag(parser)


def _io(parser: argparse.ArgumentParser, many: bool = False) -> None:
    parser.add_argument("data", type=Path, nargs="+" if many else None, help="dialog JSONL file" + ("(s)" if many else ""))
    if not many:
        parser.add_argument("--out", required=True, type=out_path, help="where to write the resulting dialog JSONL")
    add_json_flag(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="build training data: expand, lengthen, tag, sample, dedup, stats",
        description="Data recipes over dialog JSONL: Mini LIMA's expansion and lengthening, "
        "InsTag tags, tag-balanced sampling (Yi/Qwen), MinHash dedup, LIMA Table 1 stats.",
    )
    tools = parser.add_subparsers(dest="tool", metavar="TOOL", required=True)

    expand = tools.add_parser("expand", help="Mini LIMA self-instruct: new tasks, new instances, one-shot instances")
    _io(expand)
    expand.add_argument("--new-tasks", type=int, default=None, help="new tasks to ask for (default: as many as the seed tasks)")
    expand.add_argument("--instances", type=int, default=2, help="new instances per seed task (default 2)")
    expand.add_argument("--oneshot-instances", type=int, default=5, help="instances per new task (default 5)")
    expand.add_argument("--examples", type=int, default=3, help="seed tasks shown per new-task request")
    expand.add_argument("--seed", type=int, default=0)
    _add_llm_flags(expand)
    expand.set_defaults(handler=_expand)

    lengthen = tools.add_parser("lengthen", help="Mini LIMA prompt 4: rewrite too-short outputs longer")
    _io(lengthen)
    lengthen.add_argument("--min-words", type=int, default=100, help="rewrite outputs shorter than this (default 100)")
    _add_llm_flags(lengthen)
    lengthen.set_defaults(handler=_lengthen)

    tag = tools.add_parser("tag", help="InsTag-style open tags per instruction, normalised")
    _io(tag)
    tag.add_argument("--field", default=None, help="take the tags from this key of each row (e.g. category) instead of an LLM")
    tag.add_argument("--max-tags", type=int, default=5)
    tag.add_argument("--min-count", type=int, default=1, help="drop tags on fewer rows than this (InsTag's frequency filter)")
    _add_llm_flags(tag)
    tag.set_defaults(handler=_tag)

    sample = tools.add_parser("sample", help="diversity-focused, tag-balanced sample of a target size")
    _io(sample)
    sample.add_argument("--size", type=int, required=True)
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(handler=_sample)

    dedup = tools.add_parser("dedup", help="drop exact and near duplicates (MinHash), reporting what went")
    _io(dedup)
    dedup.add_argument(
        "--on", choices=("dialog", "instruction"), default="dialog", help="compare whole dialogs or first user turns"
    )
    dedup.add_argument(
        "--threshold", type=float, default=0.8, help="Jaccard similarity of word 3-grams for a near duplicate (1: exact only)"
    )
    dedup.set_defaults(handler=_dedup)

    stats = tools.add_parser("stats", help="LIMA Table 1: examples and average input/output length per source; tags")
    _io(stats, many=True)
    stats.add_argument("--tokenizer", default=None, help="count tokens of this model directory's tokenizer instead of words")
    stats.set_defaults(handler=_stats)


def _generator(args: argparse.Namespace) -> GeneratorRequest:
    from evalkit.jobs.data import GeneratorRequest

    return GeneratorRequest(
        model=args.model,
        base_url=args.base_url,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        concurrency=args.concurrency,
        max_cost=args.max_cost,
        prices=args.prices,
        progress=not args.no_progress,
        db=args.db,
    )


def _print(args: argparse.Namespace, result: DataToolResult) -> int:

    report = result.as_dict()
    if args.json:
        print(json.dumps(json_safe(report)))
    else:
        for key, value in report.items():
            print(f"{key}: {json.dumps(json_safe(value)) if isinstance(value, (dict, list)) else value}")
    return 0


def _expand(args: argparse.Namespace) -> int:
    from evalkit.jobs.data import expand_data

    result = expand_data(
        args.data,
        args.out,
        _generator(args),
        new_tasks=args.new_tasks,
        instances=args.instances,
        oneshot_instances=args.oneshot_instances,
        examples=args.examples,
        seed=args.seed,
    )
    return _print(args, result)


def _lengthen(args: argparse.Namespace) -> int:
    from evalkit.jobs.data import lengthen_data

    return _print(args, lengthen_data(args.data, args.out, _generator(args), min_words=args.min_words))


def _tag(args: argparse.Namespace) -> int:
    from evalkit.jobs.data import tag_data

    result = tag_data(args.data, args.out, _generator(args), field=args.field, max_tags=args.max_tags, min_count=args.min_count)
    return _print(args, result)


def _sample(args: argparse.Namespace) -> int:
    from evalkit.jobs.data import sample_data

    return _print(args, sample_data(args.data, args.out, size=args.size, seed=args.seed))


def _dedup(args: argparse.Namespace) -> int:
    from evalkit.jobs.data import dedup_data

    return _print(args, dedup_data(args.data, args.out, on=args.on, threshold=args.threshold))


def _stats(args: argparse.Namespace) -> int:
    from evalkit.jobs.data import data_stats

    stats = data_stats(args.data, args.tokenizer)
    if args.json:
        print(json.dumps(stats.as_dict()))
        return 0
    print(f"lengths in {stats.unit}")
    print(stats.sources.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
    if not stats.tags.empty:
        print(f"\n{len(stats.tags)} distinct tags")
        print(stats.tags.head(30).to_string(index=False, float_format=lambda v: f"{v:.1%}"))
    return 0
