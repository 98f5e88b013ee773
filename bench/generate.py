"""Generation throughput: evalkit's transformers backend vs a naive one-prompt-at-a-time loop.

Same tiny model, 64 prompts, 128 new tokens, greedy, measured in one run; prints tokens/s of each and
the ratio (absolute times on a shared machine are noise, the ratio is the figure).

    .venv/bin/python bench/generate.py [--prompts 64] [--new-tokens 128] [--batch-size 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from evalkit.data import load_prompt_set
from evalkit.generate.chat import render, stop_token_ids
from evalkit.generate.transformers_backend import TransformersGenerator
from evalkit.records import DecodingParams, GenerationRequest
from evalkit.tinymodel import DEFAULT_CORPUS, build_tiny_model


def naive_tokens_per_second(generator: TransformersGenerator, requests: list[GenerationRequest], new_tokens: int) -> tuple[float, int]:
    """What people write first: apply the chat template, generate one prompt at a time."""
    model, tokenizer = generator.model, generator.tokenizer
    stops = stop_token_ids(tokenizer, model.generation_config)
    produced = 0
    began = time.perf_counter()
    for request in requests:
        encoded = tokenizer(render(tokenizer, request.prompt.messages), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            output = model.generate(**encoded, max_new_tokens=new_tokens, do_sample=False, repetition_penalty=1.2,
                                    eos_token_id=stops, pad_token_id=tokenizer.pad_token_id)
        produced += output.shape[1] - encoded["input_ids"].shape[1]
    return produced / (time.perf_counter() - began), produced


def evalkit_tokens_per_second(generator: TransformersGenerator, requests: list[GenerationRequest], new_tokens: int) -> tuple[float, int]:
    decoding = DecodingParams(greedy=True, max_new_tokens=new_tokens)
    began = time.perf_counter()
    produced = sum(r.completion_tokens or 0 for batch in generator.generate(requests, decoding) for r in batch)
    return produced / (time.perf_counter() - began), produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-batch-tokens", type=int, default=None, help="default: the backend's (16384 on CPU)")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds of each")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        prompts = load_prompt_set("dev").prompts
        # A tokenizer trained on the prompts' own domain gives realistic prompt lengths (median ~50 tokens).
        corpus = [p.reference or "" for p in prompts] + [m["content"] for p in prompts for m in p.messages]
        model_dir = build_tiny_model(Path(tmp) / "model", corpus * 3 + list(DEFAULT_CORPUS), vocab_size=2048, hidden_size=128, layers=4)
        requests = [GenerationRequest(prompts[i % len(prompts)], i // len(prompts)) for i in range(args.prompts)]
        generator = TransformersGenerator(model_dir, batch_size=args.batch_size, device="cpu", max_batch_tokens=args.max_batch_tokens)
        evalkit_tokens_per_second(generator, requests[:4], 4)  # warm-up
        # Best of N rounds each, alternating, so a burst of load elsewhere does not decide the ratio.
        fast_runs, slow_runs = [], []
        for _ in range(args.rounds):
            fast_runs.append(evalkit_tokens_per_second(generator, requests, args.new_tokens))
            slow_runs.append(naive_tokens_per_second(generator, requests, args.new_tokens))
        fast, fast_tokens = max(fast_runs)
        slow, slow_tokens = max(slow_runs)
    print(f"prompts={args.prompts} new_tokens={args.new_tokens} batch_size={args.batch_size} "
          f"max_batch_tokens={args.max_batch_tokens} threads=2")
    print(f"naive loop       : {slow:10.1f} tokens/s ({slow_tokens} tokens)")
    print(f"evalkit batched  : {fast:10.1f} tokens/s ({fast_tokens} tokens)")
    print(f"speed-up         : {fast / slow:10.1f}x  (floor 8x)")


if __name__ == "__main__":
    main()
