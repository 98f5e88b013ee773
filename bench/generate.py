"""Generation throughput on the real model (SmolLM2-135M-Instruct) and a tiny one, in one run.

Four ways to answer the same prompts, greedy, repetition penalty 1.0, float32, answers of natural length
(each stops at its own end of turn or at the new-token limit):
  naive          what people write first: apply the chat template, `model.generate` one prompt at a time
  generate_batch transformers' own continuous batching (`model.generate_batch`, paged KV cache)
  evalkit        evalkit's transformers backend (its own loop: length-sorted batches, grouped prefill,
                 cache written in place, ended rows dropped, grouped heads not copied: gqa_attention.py)
  vllm           vLLM in-process (`vllm.LLM`; its CPU build here: `make vllm`), when installed; its engine
                 start-up is reported apart, a whole untimed pass warms every shape first, and it is
                 timed after the others, with no engine alive while they run (bench/vllm_inprocess.py)
Each method is warmed up first (an unwarmed first call costs a large share of its speed), then measured
in --rounds rounds, its tokens/s pooled over them; the naive loop's prompts are split into shares, each
run right before one of the other methods' runs, so all three are timed over the same stretch of time. tokens/s counts the tokens each answer really has (its stop token
included). Absolute rates on a shared machine are noise; the ratios within one run are the figures.

The naive loop runs one prompt at a time, so its tokens/s does not depend on how many prompts there are:
it is measured on --naive-prompts of them (spread over the set) to keep the run short.

The CPU's limit: the model's FLOPs per generated token (2 x parameters for the matmuls, lm_head included,
plus attention over the context) against this machine's measured fp32 matmul throughput.

    .venv/bin/python bench/generate.py [--models smollm2,tiny] [--new-tokens 128,512] [--rounds 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench.vllm_inprocess, run from anywhere

import torch  # noqa: E402
from transformers import ContinuousBatchingConfig, GenerationConfig  # noqa: E402

from evalkit.core.records import DecodingParams, GenerationRequest, Prompt  # noqa: E402
from evalkit.data import load_prompt_set  # noqa: E402
from evalkit.generate.chat import render  # noqa: E402
from evalkit.generate.transformers_backend import TransformersGenerator  # noqa: E402
from evalkit.models.tiny import DEFAULT_CORPUS, build_tiny_model  # noqa: E402

Method = Callable[[TransformersGenerator, list[Prompt], int], int]  # returns the tokens it produced


@contextmanager
def transformers_attention(generator: TransformersGenerator) -> Iterator[None]:
    """The model on transformers' own "sdpa" attention for the library methods (the backend switches it to
    evalkit_gqa_sdpa, which continuous batching does not take), then back."""
    chosen = generator.model.config._attn_implementation
    generator.model.set_attn_implementation("sdpa")
    try:
        yield
    finally:
        generator.model.set_attn_implementation(chosen)


def naive(generator: TransformersGenerator, prompts: list[Prompt], new_tokens: int) -> int:
    model, tokenizer = generator.model, generator.tokenizer
    produced = 0
    for prompt in prompts:
        encoded = tokenizer(render(tokenizer, prompt.messages), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode(), transformers_attention(generator):
            output = model.generate(
                **encoded,
                max_new_tokens=new_tokens,
                do_sample=False,
                repetition_penalty=1.0,
                eos_token_id=generator.stop_ids,
                pad_token_id=tokenizer.pad_token_id,
            )
        produced += output.shape[1] - encoded["input_ids"].shape[1]
    return produced


def generate_batch(generator: TransformersGenerator, prompts: list[Prompt], new_tokens: int) -> int:
    tokenizer = generator.tokenizer
    inputs = [tokenizer(render(tokenizer, p.messages), add_special_tokens=False)["input_ids"] for p in prompts]
    config = GenerationConfig(
        max_new_tokens=new_tokens,
        do_sample=False,
        repetition_penalty=1.0,
        eos_token_id=generator.stop_ids,
        pad_token_id=tokenizer.pad_token_id,
    )
    # The paged cache sized to the work (whole 256-token pages per request), not to 90% of free memory: on a
    # CPU that is the machine's RAM, and the kernel killed the run. no_grad, not inference_mode: under it the
    # manager writes in place to tensors it made outside it and every request fails (transformers 5.16.1-5.19).
    pages = sum(-(-(len(ids) + new_tokens) // 256) for ids in inputs)
    with torch.no_grad(), transformers_attention(generator):
        outputs = generator.model.generate_batch(
            inputs=inputs, generation_config=config, continuous_batching_config=ContinuousBatchingConfig(num_blocks=pages + 1)
        )
    return sum(len(o.generated_tokens) for o in outputs.values())


def evalkit(generator: TransformersGenerator, prompts: list[Prompt], new_tokens: int) -> int:
    decoding = DecodingParams(greedy=True, max_new_tokens=new_tokens, repetition_penalty=1.0)
    requests = [GenerationRequest(p, 0) for p in prompts]
    return sum(r.completion_tokens or 0 for batch in generator.generate(requests, decoding) for r in batch)


METHODS: dict[str, Method] = {"naive": naive, "generate_batch": generate_batch, "evalkit": evalkit}


def matmul_gflops(size: int = 1024, repeats: int = 20) -> float:
    """The machine's fp32 matmul throughput now (best of 3), the ceiling every method shares."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = 0.0
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - began) / 1e9)
    return best


def flops_per_token(model: Any, context: float) -> float:
    """2 FLOPs per matmul parameter (the embedding lookup is free, the tied lm_head is a matmul), plus
    attention's QK^T and AV over `context` positions in every layer."""
    config = model.config
    head_dim = config.hidden_size // config.num_attention_heads
    attention = 4 * config.num_hidden_layers * context * config.num_attention_heads * head_dim
    lookup = 0 if config.tie_word_embeddings else config.vocab_size * config.hidden_size
    return 2 * (model.num_parameters() - lookup) + attention


def measure(
    generator: TransformersGenerator,
    prompts: list[Prompt],
    naive_prompts: list[Prompt],
    new_tokens: int,
    rounds: int,
    methods: dict[str, Method],
) -> dict[str, tuple[float, int]]:
    """tokens/s of each method, pooled over its runs (all tokens over all seconds). The naive loop's prompts
    are split into shares run right before each run of the others, so its timing is spread over the same
    stretch of time as theirs: a slow spell on the shared host falls on every method alike."""
    for method in methods.values():  # warm-up: kernels, allocator, the continuous-batching manager
        method(generator, prompts[:4], 8)
    batched = [name for name in methods if name != "naive"]
    shares = [naive_prompts[i :: rounds * len(batched)] for i in range(rounds * len(batched))]
    totals: dict[str, list[float]] = {name: [0.0, 0.0] for name in methods}  # seconds, tokens

    def timed(name: str, work: list[Prompt]) -> None:
        began = time.perf_counter()
        produced = methods[name](generator, work, new_tokens)
        totals[name][0] += time.perf_counter() - began
        totals[name][1] += produced

    for round_index in range(rounds):
        for position, name in enumerate(batched):
            if share := shares[round_index * len(batched) + position]:
                timed("naive", share)
            timed(name, prompts)
    per_run = {name: tokens if name == "naive" else tokens / rounds for name, (_, tokens) in totals.items()}
    return {name: (tokens / seconds, round(per_run[name])) for name, (seconds, tokens) in totals.items()}


def report(
    label: str,
    generator: TransformersGenerator,
    prompts: list[Prompt],
    naive_prompts: list[Prompt],
    new_tokens: int,
    gflops: float,
    best: dict[str, tuple[float, int]],
    vllm_startup_s: float | None = None,
) -> None:
    tokenizer = generator.tokenizer
    rendered = [render(tokenizer, p.messages) for p in prompts]
    prompt_tokens = sum(len(ids) for ids in tokenizer(rendered, add_special_tokens=False)["input_ids"]) / len(prompts)
    answer_tokens = best["evalkit"][1] / len(prompts)
    flops = flops_per_token(generator.model, prompt_tokens + answer_tokens / 2)
    ceiling = gflops * 1e9 / flops
    print(
        f"\n{label}: {len(prompts)} prompts (naive: {len(naive_prompts)}), at most {new_tokens} new tokens, "
        f"mean answer {answer_tokens:.0f} tokens, mean prompt {prompt_tokens:.0f} tokens"
    )
    for name, (rate, produced) in best.items():
        print(f"  {name:<15}: {rate:8.1f} tokens/s ({produced} tokens)")
    library = best["generate_batch"][0]
    print(f"  evalkit / naive          : {best['evalkit'][0] / best['naive'][0]:6.1f}x  (floor 10x)")
    if library:
        print(f"  evalkit / generate_batch : {best['evalkit'][0] / library:6.1f}x  (floor 2x)")
    else:
        print("  evalkit / generate_batch : not measured (generate_batch produced no tokens: see its log above)")
    if "vllm" in best:
        rate, produced = best["vllm"]
        print(f"  evalkit / vllm           : {best['evalkit'][0] / rate:6.2f}x  (both warmed, start-up not timed)")
        if vllm_startup_s is not None:  # what a user waits for this set: one engine start, then the answers
            evalkit_s, vllm_s = best["evalkit"][1] / best["evalkit"][0], vllm_startup_s + produced / rate
            print(
                f"  end to end, these prompts once: evalkit {evalkit_s:.0f} s, vllm {vllm_s:.0f} s "
                f"({vllm_startup_s:.0f} s engine start-up + {produced / rate:.0f} s)"
            )
    print(
        f"  CPU limit: {flops / 1e6:.0f} MFLOP/token at {gflops:.0f} GFLOP/s matmul = {ceiling:.0f} tokens/s; "
        f"evalkit reaches {100 * best['evalkit'][0] / ceiling:.0f}% of it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm2,tiny", help="comma-separated: smollm2 (the real model), tiny")
    parser.add_argument("--prompts", type=int, default=50, help="dev prompts (the set has 50)")
    parser.add_argument("--naive-prompts", type=int, default=8)
    parser.add_argument("--new-tokens", default="128,512")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of each method, pooled")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--vllm", choices=("auto", "yes", "no"), default="auto", help="time vLLM in-process too (auto: when it is installed)"
    )
    args = parser.parse_args()
    import importlib.util

    with_vllm = args.vllm == "yes" or (args.vllm == "auto" and importlib.util.find_spec("vllm") is not None)
    torch.set_num_threads(args.threads)
    prompts = list(load_prompt_set("dev").prompts[: args.prompts])
    naive_prompts = prompts[:: max(1, len(prompts) // args.naive_prompts)][: args.naive_prompts]
    gflops = matmul_gflops()
    print(f"threads={args.threads} matmul={gflops:.0f} GFLOP/s load average={os.getloadavg()[0]:.1f} torch={torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            if name == "smollm2":
                from evalkit.models.smollm2 import get_smollm2

                path = get_smollm2()
            else:  # a tokenizer trained on the prompts' own domain gives realistic prompt lengths
                corpus = [p.reference or "" for p in prompts] + [m["content"] for p in prompts for m in p.messages]
                path = build_tiny_model(
                    Path(tmp) / "tiny", corpus * 3 + list(DEFAULT_CORPUS), vocab_size=2048, hidden_size=128, layers=4
                )
            generator = TransformersGenerator(path, device="cpu", dtype="float32")
            lengths = [int(n) for n in args.new_tokens.split(",")]
            measured = {n: measure(generator, prompts, naive_prompts, n, args.rounds, METHODS) for n in lengths}
            startup = None
            if with_vllm:
                # after the others, never beside them: with an engine's processes alive beside it, evalkit's loop
                # measured 78 tokens/s at 128 new tokens; with none, 101-117
                from bench.vllm_inprocess import VLLMInProcess

                engine = VLLMInProcess(str(path), generator.tokenizer, dtype="float32")
                startup = engine.startup_s
                print(f"{name}: vLLM engine start-up (build, compile, warm-up) {startup:.0f} s")
                for n in lengths:
                    measured[n]["vllm"] = engine.measure(prompts, n, args.rounds)
                engine.close()
            for n in lengths:
                report(name, generator, prompts, naive_prompts, n, gflops, measured[n], startup)
            generator.close()
    print(f"\nload average at the end={os.getloadavg()[0]:.1f} (2 cores: above 2 the figures are slowed by other work)")


if __name__ == "__main__":
    main()
