"""Prompt-lookup drafts in evalkit's decoding loop, on against off, on the real model (SmolLM2-135M-Instruct).

All dev prompts, greedy, repetition penalty 1.0, answers of natural length, through the transformers
backend; each variant warmed up, then run in alternating rounds (off, on, off, on, ...) so that load on
the shared machine falls on both. Prints each run's time and steps, the median ratio, and how many
answers are identical (they should all be: a draft token is kept only where the model agrees).

    .venv/bin/python bench/drafts.py [--prompts 50] [--new-tokens 512] [--rounds 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from evalkit.data import load_prompt_set  # noqa: E402
from evalkit.generate import decode_loop  # noqa: E402
from evalkit.generate.transformers_backend import TransformersGenerator  # noqa: E402
from evalkit.models.smollm2 import get_smollm2  # noqa: E402
from evalkit.records import DecodingParams, GenerationRequest  # noqa: E402


def run(
    generator: TransformersGenerator, requests: list[GenerationRequest], decoding: DecodingParams
) -> tuple[float, int, list[str]]:
    steps = 0

    def count(tokens: int, finished: int) -> None:
        nonlocal steps
        steps += 1

    generator.on_step = count
    began = time.perf_counter()
    results = [r for batch in generator.generate(requests, decoding) for r in batch]
    return time.perf_counter() - began, steps, [r.text for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = TransformersGenerator(get_smollm2(), device="cpu")
    requests = [GenerationRequest(p, 0) for p in load_prompt_set("dev").prompts[: args.prompts]]
    decoding = DecodingParams(greedy=True, max_new_tokens=args.new_tokens, repetition_penalty=1.0)
    warm = DecodingParams(greedy=True, max_new_tokens=16, repetition_penalty=1.0)
    times: dict[bool, list[float]] = {False: [], True: []}
    answers: dict[bool, list[str]] = {}
    for drafts in (False, True):
        decode_loop.SPECULATE = drafts
        run(generator, requests[:4], warm)
    print(f"{len(requests)} dev prompts, at most {args.new_tokens} new tokens, greedy, load average {os.getloadavg()[0]:.1f}")
    for _ in range(args.rounds):
        for drafts in (False, True):
            decode_loop.SPECULATE = drafts
            seconds, steps, texts = run(generator, requests, decoding)
            times[drafts].append(seconds)
            answers[drafts] = texts
            print(f"  drafts {'on ' if drafts else 'off'}: {seconds:6.1f} s, {steps} decoding steps")
    decode_loop.SPECULATE = True
    ratio = statistics.median(times[False]) / statistics.median(times[True])
    same = sum(a == b for a, b in zip(answers[False], answers[True]))
    print(f"drafts on / off: {ratio:.2f}x the speed; identical answers: {same} of {len(requests)}")


if __name__ == "__main__":
    main()
