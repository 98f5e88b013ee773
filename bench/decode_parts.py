"""What four parts of evalkit's decoding loop buy, each against the loop without it, on the real model.

  shared prefix   prefilling the 50 dev prompts (SmolLM2's chat template gives 47 of them the same
                  24-token system turn; 3 have their own) with the common prefix computed once, against
                  every row computing its whole prompt
  row groups      one decoding step of a batch whose rows have the dev prompts' padding, with attention
                  split into runs of similarly padded rows, against one SDPA call over the whole width
  oneDNN          the same step with the linear layers on oneDNN's packed weights, against MKL
  folded GQA      one layer's attention for a step that feeds 3 tokens per row (draft tokens), the query
                  heads that share a key/value head folded together, against transformers' SDPA path
                  (which copies the keys and values once per sharing head)

The two variants alternate, run after run, in one process (load elsewhere hits both alike); medians.
The shared prefix and row groups give the same tokens (checked here for the prefill's first token;
tests/test_decode_loop.py checks whole answers against `model.generate`); oneDNN's sums differ from
MKL's in the last digits (its greedy argmax is compared here).

    .venv/bin/python bench/decode_parts.py [--repeats 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers.integrations.sdpa_attention import sdpa_attention_forward  # noqa: E402

from evalkit.data import load_prompt_set  # noqa: E402
from evalkit.generate import decode_loop, packed_linear, row_group_attention  # noqa: E402
from evalkit.generate.chat import render  # noqa: E402
from evalkit.generate.kv_cache import preallocated_cache  # noqa: E402
from evalkit.generate.transformers_backend import load_model  # noqa: E402
from evalkit.models.smollm2 import get_smollm2  # noqa: E402
from evalkit.records import DecodingParams  # noqa: E402


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
    """Prefill only (one new token), both on MKL linears."""
    first_tokens: dict[str, list[list[int]]] = {}

    def prefill(enabled: bool) -> Callable[[], object]:
        def run() -> None:
            decode_loop.MIN_SHARED_PREFIX = 8 if enabled else 1 << 30
            decoding = DecodingParams(greedy=True, max_new_tokens=1, repetition_penalty=1.0)
            answers = decode_loop.decode(model, encoded["input_ids"], encoded["attention_mask"], decoding, [stop])
            first_tokens[str(enabled)] = [a.tokens for a in answers]

        return run

    default = decode_loop.MIN_SHARED_PREFIX
    packed_linear.ENABLED = False
    medians = alternate({"whole prompts": prefill(False), "shared prefix": prefill(True)}, repeats)
    decode_loop.MIN_SHARED_PREFIX, packed_linear.ENABLED = default, True
    lengths = [int(n) for n in encoded["attention_mask"].sum(-1).tolist()]
    shared, sharing = decode_loop._shared_prefix(encoded["input_ids"], lengths)
    print(
        f"prefill, {len(lengths)} prompts ({sum(lengths)} tokens; {sum(sharing)} share a {shared}-token prefix): "
        f"whole prompts {medians['whole prompts']:.2f} s, shared prefix {medians['shared prefix']:.2f} s = "
        f"{medians['whole prompts'] / medians['shared prefix']:.2f}x; same first tokens: {first_tokens['True'] == first_tokens['False']}"
    )


def decoding_step(model: object, lengths: list[int], rows: int, new_tokens: int, repeats: int) -> None:
    """One decoding step at `new_tokens` into the answers, for `rows` of the prompts (spread over them):
    MKL with one attention call, MKL with row groups, oneDNN with row groups."""
    chosen = lengths[:: max(1, len(lengths) // rows)][:rows]
    width = max(chosen) + new_tokens
    padding = [max(chosen) - n for n in chosen]
    config = model.config  # type: ignore[attr-defined]
    cache = preallocated_cache(config, width + 1)
    assert cache is not None
    heads = config.num_key_value_heads
    head_dim = config.hidden_size // config.num_attention_heads
    for layer in cache.preallocated:  # a full cache: what is in it does not change the work
        layer.lazy_initialization(torch.zeros(rows, heads, 1, head_dim), torch.zeros(rows, heads, 1, head_dim))
        layer.key_buffer.normal_()
        layer.value_buffer.normal_()
    mask = (torch.arange(width)[None, :] >= torch.tensor(padding)[:, None]).long()
    positions = mask.sum(-1, keepdim=True) - 1
    step = torch.randint(0, config.vocab_size, (rows, 1))
    plan = row_group_attention.plan(padding)
    logits: dict[str, torch.Tensor] = {}

    def decode_step(name: str, groups: row_group_attention.RowGroups | None, onednn: bool) -> Callable[[], object]:
        def run() -> None:
            for layer in cache.preallocated:
                layer.length = width - 1
            packed_linear.ENABLED = onednn
            with packed_linear.enabled(model) as active:
                logits[name] = decode_loop._logits_function(model, active)(step, mask, positions, cache, groups, 1)

        return run

    with torch.inference_mode(), row_group_attention.enabled(model):
        medians = alternate(
            {
                "one call": decode_step("one call", None, False),
                "row groups": decode_step("row groups", plan, False),
                "oneDNN": decode_step("oneDNN", plan, True),
            },
            repeats,
        )
    packed_linear.ENABLED = True
    same = torch.equal(logits["oneDNN"].argmax(-1), logits["row groups"].argmax(-1))
    print(
        f"decoding step, {rows} rows at {new_tokens} tokens in (width {width}, {len(plan)} row groups): "
        f"one call {1000 * medians['one call']:.0f} ms, row groups {1000 * medians['row groups']:.0f} ms "
        f"({medians['one call'] / medians['row groups']:.2f}x), + oneDNN {1000 * medians['oneDNN']:.0f} ms "
        f"({medians['row groups'] / medians['oneDNN']:.2f}x more; same argmax: {same})"
    )


def folded_attention(model: object, rows: int, columns: int, tokens: int, repeats: int) -> None:
    config = model.config  # type: ignore[attr-defined]
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    size = config.hidden_size // heads
    query = torch.randn(rows, heads, tokens, size)
    key, value = torch.randn(rows, kv_heads, columns, size), torch.randn(rows, kv_heads, columns, size)
    mask = torch.ones(rows, 1, tokens, columns, dtype=torch.bool)
    mask[:, :, :, : columns // 10] = False  # some left padding
    module = torch.nn.Module()
    module.num_key_value_groups = heads // kv_heads  # type: ignore[assignment]
    outputs: dict[str, torch.Tensor] = {}

    def attend(name: str, function: Callable[..., torch.Tensor]) -> Callable[[], object]:
        def run() -> None:
            outputs[name] = function(module, query, key, value, mask, scaling=size**-0.5)

        return run

    medians = alternate(
        {
            "repeat_kv": attend("repeat_kv", lambda *a, **k: sdpa_attention_forward(*a, **k)[0]),
            "folded": attend("folded", row_group_attention._attend),
        },
        repeats,
    )
    same = torch.allclose(outputs["repeat_kv"], outputs["folded"], atol=1e-5)
    print(
        f"attention of one layer, {rows} rows x {columns} columns, {tokens} query tokens per row: transformers' SDPA "
        f"{1000 * medians['repeat_kv']:.1f} ms, folded {1000 * medians['folded']:.1f} ms "
        f"({medians['repeat_kv'] / medians['folded']:.2f}x; same output: {same})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer, _ = load_model(get_smollm2(), "cpu")
    texts = [render(tokenizer, p.messages) for p in load_prompt_set("dev").prompts]
    texts.sort(key=lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]), reverse=True)
    encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    print(f"threads={args.threads} load average={os.getloadavg()[0]:.1f} torch={torch.__version__}")
    with torch.inference_mode():
        shared_prefix(model, encoded, tokenizer.eos_token_id, args.repeats)
    lengths = [int(n) for n in encoded["attention_mask"].sum(-1).tolist()]
    for rows, new_tokens in ((50, 64), (50, 256), (25, 256), (15, 450), (1, 100)):
        decoding_step(model, lengths, rows, new_tokens, args.repeats)
    with torch.inference_mode():
        for rows, columns, tokens in ((16, 700, 3), (16, 700, 9), (40, 400, 3)):
            folded_attention(model, rows, columns, tokens, 5 * args.repeats)


if __name__ == "__main__":
    main()
