"""Judge throughput: 2,000 pairwise requests against the scripted server at 500 ms latency.

Measured in one run, against:
  * the physical limit N x latency / concurrency (floor: within 1.3x),
  * a bare `openai.AsyncOpenAI` loop with a semaphore, same requests (what the client alone reaches),
  * alpaca-eval's own annotator (weighted_alpaca_eval_gpt4_turbo, its defaults) pointed at the same
    server, on a subset, by requests per second (floor: evalkit 5x faster); on that subset evalkit's
    alpaca_eval judge must also give the same preferences as alpaca-eval itself,
  * a re-run of the finished job, which must send 0 requests.

    .venv/bin/python bench/judge.py [--pairs 1000] [--latency 0.5] [--concurrency 64] [--alpaca-subset 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    """The scripted server in its own process, so it does not share the client's interpreter lock."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.fake_openai_server", "--latency", str(latency), "--vary-logprobs"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def server_requests(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/_stats", timeout=10) as response:
        return int(json.load(response)["requests"])


def write_outputs(folder: Path, pairs: int) -> tuple[Path, Path]:
    model = [
        {
            "instruction": f"Question {i}: explain topic {i} briefly.",
            "output": f"Model answer {i}: " + "detail " * (i % 40),
            "generator": "bench-model",
        }
        for i in range(pairs)
    ]
    baseline = [
        {"instruction": row["instruction"], "output": f"Baseline answer {i}.", "generator": "bench-baseline"}
        for i, row in enumerate(model)
    ]
    (folder / "model.json").write_text(json.dumps(model))
    (folder / "baseline.json").write_text(json.dumps(baseline))
    return folder / "model.json", folder / "baseline.json"


async def bare_openai_loop(base_url: str, requests: list[list[dict[str, str]]], concurrency: int) -> float:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench")
    semaphore = asyncio.Semaphore(concurrency)

    async def one(messages: list[dict[str, str]]) -> None:
        async with semaphore:
            await client.chat.completions.create(model="bench-judge", messages=messages, max_tokens=512, temperature=0)

    began = time.perf_counter()
    await asyncio.gather(*(one(m) for m in requests))
    elapsed = time.perf_counter() - began
    await client.close()
    return elapsed


def alpaca_eval_annotator(
    base_url: str, model_file: Path, baseline_file: Path, subset: int, folder: Path
) -> tuple[float, list[float]]:
    """alpaca-eval's PairwiseAnnotator with its defaults, its OpenAI client config pointed at our server."""
    config = folder / "openai_configs.yaml"
    config.write_text(json.dumps({"default": [{"api_key": "bench", "base_url": base_url}]}))
    os.environ["OPENAI_CLIENT_CONFIG_PATH"] = str(config)  # read by alpaca_eval.constants at import
    from alpaca_eval.annotators import PairwiseAnnotator

    outputs = json.loads(model_file.read_text())[:subset]
    references = json.loads(baseline_file.read_text())[:subset]
    annotator = PairwiseAnnotator(annotators_config="weighted_alpaca_eval_gpt4_turbo", caching_path=folder / "ae_cache.json")
    logging.getLogger().setLevel(logging.WARNING)  # alpaca_eval turns on INFO logging of every request
    began = time.perf_counter()
    annotations = annotator.annotate_head2head(outputs_1=references, outputs_2=outputs)
    elapsed = time.perf_counter() - began
    by_instruction = {row["instruction"]: float(row["preference"]) for row in annotations}
    return elapsed, [by_instruction[row["instruction"]] for row in outputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pairs", type=int, default=1000, help="pairs; each is judged in both orders (default 1000 = 2000 requests)"
    )
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--alpaca-subset", type=int, default=100)
    args = parser.parse_args()

    import openai  # noqa: F401  imported before any timing, as in the bare loop

    from evalkit.data.alpaca import import_model_outputs
    from evalkit.judges.alpaca import AlpacaEvalJudge
    from evalkit.judges.pairing import pair_items
    from evalkit.judges.registry import make_judge
    from evalkit.judges.runner import RunOptions, as_generation_set, judge_pairs
    from evalkit.results.tables import alpaca_table
    from evalkit.store import Store

    server, base_url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            model_file, baseline_file = write_outputs(folder, args.pairs)
            store = Store(f"sqlite:///{folder / 'bench.db'}")
            model_id, _ = import_model_outputs(store, model_file)
            baseline_id, _ = import_model_outputs(store, baseline_file)
            requests = 2 * args.pairs
            limit = requests * args.latency / args.concurrency
            options = RunOptions(base_url=base_url, concurrency=args.concurrency, progress=False)
            os.environ.setdefault("OPENAI_API_KEY", "bench")

            judge = make_judge("pairwise", judge_model="bench-judge")
            warm = [[{"role": "user", "content": "warm-up"}]] * args.concurrency  # server threads, client imports
            asyncio.run(bare_openai_loop(base_url, warm, args.concurrency))
            before = server_requests(base_url)
            summary = judge_pairs(store, judge, model_id, baseline_id, options=options)
            ours = summary["wall_s"]
            sent = server_requests(base_url) - before
            assert summary["requests"] == requests == sent and summary["stored"] == requests, summary

            items, _ = pair_items(
                store,
                judge,
                judge.kind,
                as_generation_set(store, model_id),  # the very messages the judge sent
                as_generation_set(store, baseline_id),
            )
            bare = asyncio.run(bare_openai_loop(base_url, [judge.messages(i.texts, i.order) for i in items], args.concurrency))

            before = server_requests(base_url)
            rerun = judge_pairs(store, judge, model_id, baseline_id, options=options)
            rerun_sent = server_requests(base_url) - before

            subset = args.alpaca_subset
            ae_wall, ae_preferences = alpaca_eval_annotator(base_url, model_file, baseline_file, subset, folder)
            alpaca_judge = AlpacaEvalJudge("bench-judge")
            instructions = [row["instruction"] for row in json.loads(model_file.read_text())[:subset]]
            subset_store = Store(f"sqlite:///{folder / 'subset.db'}")
            (folder / "m_sub.json").write_text(json.dumps(json.loads(model_file.read_text())[:subset]))
            (folder / "b_sub.json").write_text(json.dumps(json.loads(baseline_file.read_text())[:subset]))
            sub_model, _ = import_model_outputs(subset_store, folder / "m_sub.json")
            sub_base, _ = import_model_outputs(subset_store, folder / "b_sub.json")
            ours_alpaca = judge_pairs(subset_store, alpaca_judge, sub_model, sub_base, options=options)
            table = alpaca_table(subset_store).set_index("instruction")
            mismatches = sum(abs(table.loc[i, "preference"] - p) > 1e-9 for i, p in zip(instructions, ae_preferences))
    finally:
        server.terminate()
        server.wait()

    ours_rate, ae_rate = requests / ours, subset / ae_wall
    print(
        f"judge bench: {requests} pairwise requests, latency {args.latency:g} s, concurrency {args.concurrency}, {os.cpu_count()} cores"
    )
    print(f"  physical limit N*latency/concurrency   {limit:8.2f} s")
    print(f"  evalkit judge_pairs (pairwise)         {ours:8.2f} s   {ours / limit:5.2f}x the limit   {ours_rate:7.1f} req/s")
    print(
        f"  bare AsyncOpenAI + semaphore           {bare:8.2f} s   {bare / limit:5.2f}x the limit   {requests / bare:7.1f} req/s"
    )
    print(
        f"  alpaca-eval annotator, {subset} pairs     {ae_wall:8.2f} s   {ae_rate:7.1f} req/s   "
        f"-> evalkit {ours_rate / ae_rate:5.1f}x faster per request"
    )
    print(
        f"  evalkit alpaca_eval judge, same {subset}   {ours_alpaca['wall_s']:8.2f} s   preferences differing from alpaca-eval: {mismatches}"
    )
    print(
        f"  re-run of the finished job             {rerun['wall_s']:8.2f} s   requests sent: {rerun_sent} (counted by the server)"
    )
    ok = ours / limit <= 1.3 and ours_rate / ae_rate >= 5 and rerun_sent == 0 and rerun["requests"] == 0 and mismatches == 0
    print("  floors (<=1.3x limit, >=5x alpaca-eval, 0 re-run requests, equal preferences):", "met" if ok else "NOT met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
