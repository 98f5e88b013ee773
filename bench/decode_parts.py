"""What two parts of evalkit's decoding loop buy, each against the loop without it, on the real model.

  shared prefix   prefilling the 50 dev prompts (SmolLM2's chat template gives 47 of them the same
                  24-token system turn; 3 have their own) with the common prefix computed once, against
                  every row computing its whole prompt
  grouped heads   whole answers (the dev prompts, greedy and sampled) with key/value heads handed to torch's
                  attention as they are (evalkit_gqa_sdpa), against transformers' "sdpa", which copies
                  each head per query group on every step of every layer when a batch has a padding mask;
                  on SmolLM2 (9 query heads over 3) and on the demo's tiny Llama (4 over 2)
  W·hᵀ head       a decoding step's logits for a few dozen rows as lm_head.weight @ hᵀ (what the loop
                  computes for plain heads), against `lm_head(h)` (h @ Wᵀ): the same products, the
                  orientation MKL runs faster at these shapes

The two variants alternate, run after run, in one process (load elsewhere hits both alike); medians.
Both give the same tokens (checked here: the prefill's first tokens, the answers, the head's argmax;
tests/generate/test_decode_loop.py checks whole answers against `model.generate`).

    .venv/bin/python bench/decode_parts.py [--repeats 6] [--threads 2] [--new-tokens 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from evalkit.core.records import DecodingParams  # noqa: E402
from evalkit.data import load_prompt_set  # noqa: E402
from evalkit.generate import decode_loop  # noqa: E402
from evalkit.generate.chat import render  # noqa: E402
from evalkit.generate.gqa_attention import use_gqa_sdpa  # noqa: E402
from evalkit.generate.transformers_backend import load_model  # noqa: E402
from evalkit.models.smollm2 import get_smollm2  # noqa: E402
from evalkit.models.tiny import DEFAULT_CORPUS, build_tiny_model  # noqa: E402


def alternate(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each variant, run in turn `repeats` times after one warm-up turn."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for turn in range(repeats + 1):
        for name, run in variants.items():
            began = time.perf_counter()
            run()
            if turn:
                times[name].append(time.perf_counter() - began)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def shared_prefix(model: object, encoded: dict[str, torch.Tensor], stop: int, repeats: int) -> None:
    """Prefill only (one new token)."""
    first_tokens: dict[str, list[list[int]]] = {}

    def prefill(enabled: bool) -> Callable[[], object]:
        def run() -> None:
            decode_loop.MIN_SHARED_PREFIX = 8 if enabled else 1 << 30
            decoding = DecodingParams(greedy=True, max_new_tokens=1, repetition_penalty=1.0)
            answers = decode_loop.decode(model, encoded["input_ids"], encoded["attention_mask"], decoding, [stop])
            first_tokens[str(enabled)] = [a.tokens for a in answers]

        return run

    default = decode_loop.MIN_SHARED_PREFIX
    medians = alternate({"whole prompts": prefill(False), "shared prefix": prefill(True)}, repeats)
    decode_loop.MIN_SHARED_PREFIX = default
    lengths = [int(n) for n in encoded["attention_mask"].sum(-1).tolist()]
    shared, sharing = decode_loop._shared_prefix(encoded["input_ids"], lengths)
    print(
        f"prefill, {len(lengths)} prompts ({sum(lengths)} tokens; {sum(sharing)} share a {shared}-token prefix): "
        f"whole prompts {medians['whole prompts']:.2f} s, shared prefix {medians['shared prefix']:.2f} s = "
        f"{medians['whole prompts'] / medians['shared prefix']:.2f}x; same first tokens: {first_tokens['True'] == first_tokens['False']}"
    )


def grouped_heads(name: str, model: Any, encoded: dict[str, torch.Tensor], stop: int, new_tokens: int, repeats: int) -> None:
    """Whole answers, transformers' "sdpa" against evalkit_gqa_sdpa, greedy and sampled (same seed)."""
    for decoding in (
        DecodingParams(greedy=True, max_new_tokens=new_tokens, repetition_penalty=1.0),
        DecodingParams(max_new_tokens=new_tokens),  # the defaults: temperature 0.7, top-p 0.9, penalty 1.2
    ):
        answers: dict[str, list[list[int]]] = {}

        def answer(
            attention: str, decoding: DecodingParams = decoding, answers: dict[str, list[list[int]]] = answers
        ) -> Callable[[], object]:
            def run() -> None:
                if attention == "sdpa":
                    model.set_attn_implementation("sdpa")
                else:
                    use_gqa_sdpa(model)
                torch.manual_seed(0)
                decoded = decode_loop.decode(model, encoded["input_ids"], encoded["attention_mask"], decoding, [stop])
                answers[attention] = [a.tokens for a in decoded]

            return run

        medians = alternate({"sdpa": answer("sdpa"), "grouped": answer("grouped")}, repeats)
        model.set_attn_implementation("sdpa")
        tokens = sum(len(a) for a in answers["grouped"])
        print(
            f"grouped heads, {name}, {len(answers['sdpa'])} prompts, {'greedy' if decoding.greedy else 'sampled'}, "
            f"{tokens} tokens: sdpa {medians['sdpa']:.2f} s, grouped {medians['grouped']:.2f} s = "
            f"{medians['sdpa'] / medians['grouped']:.2f}x; same answers: {answers['sdpa'] == answers['grouped']}"
        )


def encode(tokenizer: Any, texts: list[str]) -> dict[str, torch.Tensor]:
    """The prompts longest first, left-padded, as the backend batches them."""
    texts = sorted(texts, key=lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]), reverse=True)
    return dict(tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False))


def head(model: object, rows: int, repeats: int) -> None:
    """One decoding step's head: `rows` hidden states to logits, both orientations."""
    lm_head = model.lm_head  # type: ignore[attr-defined]
    hidden = torch.randn(rows, lm_head.in_features)
    logits: dict[str, torch.Tensor] = {}

    def run(name: str, function: Callable[[], torch.Tensor]) -> Callable[[], object]:
        def timed() -> None:
            logits[name] = function()

        return timed

    medians = alternate(
        {
            "h @ W^T": run("h @ W^T", lambda: lm_head(hidden)),
            "W @ h^T": run("W @ h^T", lambda: torch.mm(lm_head.weight, hidden.t()).t()),
        },
        repeats,
    )
    same = torch.equal(logits["h @ W^T"].argmax(-1), logits["W @ h^T"].argmax(-1))
    print(
        f"head, {rows} rows x {lm_head.out_features} words: lm_head(h) {1000 * medians['h @ W^T']:.1f} ms, "
        f"W @ h^T {1000 * medians['W @ h^T']:.1f} ms = {medians['h @ W^T'] / medians['W @ h^T']:.2f}x; same argmax: {same}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=64, help="the grouped-heads part's answer limit")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prompts = load_prompt_set("dev").prompts
    model, tokenizer, _ = load_model(get_smollm2(), "cpu")
    encoded = encode(tokenizer, [render(tokenizer, p.messages) for p in prompts])
    print(f"threads={args.threads} load average={os.getloadavg()[0]:.1f} torch={torch.__version__}")
    with torch.inference_mode():
        shared_prefix(model, encoded, tokenizer.eos_token_id, args.repeats)
        grouped_heads("SmolLM2", model, encoded, tokenizer.eos_token_id, args.new_tokens, max(1, args.repeats // 3))
        for rows in (50, 15, 1):
            head(model, rows, 5 * args.repeats)
    with tempfile.TemporaryDirectory() as tmp:  # a tiny Llama of the demo's shape
        tiny, tiny_tokenizer, _ = load_model(build_tiny_model(Path(tmp) / "tiny", DEFAULT_CORPUS, vocab_size=1024), "cpu")
        tiny_encoded = encode(tiny_tokenizer, [render(tiny_tokenizer, p.messages) for p in prompts])
        grouped_heads("tiny Llama", tiny, tiny_encoded, tiny_tokenizer.eos_token_id, 96, args.repeats)


if __name__ == "__main__":
    main()
