"""evalkit_gqa_sdpa against transformers' own "sdpa" attention: the same outputs to the bit for grouped
and plain heads, in float32 and bfloat16, with a padding mask (decoding) and without one (a causal
prefill), and the same answers
from a real forward, greedy and sampled. Passes on transformers 5.16.1 and 5.19.0 (public
AttentionInterface, AttentionMaskInterface and set_attn_implementation)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from evalkit.core.records import DecodingParams, GenerationRequest
from evalkit.data import load_prompt_set
from evalkit.generate.gqa_attention import ATTENTION_NAME, gqa_sdpa_attention, use_gqa_sdpa
from evalkit.generate.transformers_backend import TransformersGenerator, load_model

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(("heads", "kv_heads"), [(4, 2), (9, 3), (4, 4)])
@pytest.mark.parametrize("queries", [1, 7])
@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_equal_to_transformers_sdpa(heads: int, kv_heads: int, queries: int, masked: bool, dtype: str) -> None:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    generator = torch.Generator().manual_seed(heads * 100 + queries)
    rows, keys, size = 5, 23, 16
    query, key, value = (
        torch.randn(rows, count, length, size, generator=generator).to(getattr(torch, dtype))
        for count, length in ((heads, queries), (kv_heads, keys), (kv_heads, keys))
    )
    mask = None
    if masked:  # left padding of a different width in each row, causal over the last `queries` positions
        padding = torch.arange(keys)[None, :] >= torch.tensor([0, 3, 6, 9, 12])[:, None]
        causal = torch.arange(keys)[None, :] <= (keys - queries + torch.arange(queries))[:, None]
        mask = (padding[:, None, :] & causal[None, :, :])[:, None, :, :]
    module = SimpleNamespace(num_key_value_groups=heads // kv_heads, is_causal=True)
    ours, _ = gqa_sdpa_attention(module, query, key, value, mask, scaling=size**-0.5)  # type: ignore[arg-type]
    theirs, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=size**-0.5)  # type: ignore[arg-type]
    assert ours.shape == theirs.shape == (rows, queries, heads, size)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("decoding", [DecodingParams(max_new_tokens=24, greedy=True), DecodingParams(max_new_tokens=24)])
def test_the_backend_switches_to_it_and_answers_as_with_sdpa(tiny_model_dir: Path, decoding: DecodingParams) -> None:
    """The fixture's tiny Llama has 4 query heads over 2 key/value heads; the batch is left-padded."""
    generator = TransformersGenerator(tiny_model_dir, batch_size=8, device="cpu")
    assert generator.model.config._attn_implementation == ATTENTION_NAME
    requests = [GenerationRequest(prompt=p, sample=0) for p in load_prompt_set("dev").prompts[:12]]
    ours = [(r.text, r.completion_tokens) for batch in generator.generate(requests, decoding) for r in batch]
    generator.model.set_attn_implementation("sdpa")
    theirs = [(r.text, r.completion_tokens) for batch in generator.generate(requests, decoding) for r in batch]
    assert ours == theirs and sum(tokens or 0 for _, tokens in ours) > 12


def test_left_alone_off_sdpa(tiny_model_dir: Path) -> None:
    model, _, _ = load_model(tiny_model_dir, "cpu")
    model.set_attn_implementation("eager")
    assert not use_gqa_sdpa(model) and model.config._attn_implementation == "eager"
    model.set_attn_implementation("sdpa")
    assert use_gqa_sdpa(model) and model.config._attn_implementation == ATTENTION_NAME
