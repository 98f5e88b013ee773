"""Grouped-query attention without copying the key/value cache, for evalkit's decode loop.

transformers' "sdpa" attention passes `enable_gqa=True` to torch's scaled_dot_product_attention only when
there is no attention mask (its `use_gqa_in_sdpa`, written for CUDA's kernels). A batch of left-padded
prompts always has a mask, so on every step of every layer it first repeats each key/value head
(`repeat_kv`: an expand and a reshape that copies the whole cache so far), and then attends. torch's CPU
kernel takes the mask and the grouped heads together (torch >= 2.5), with the same result to the bit
(tests/generate/test_gqa_attention.py). Without the copy, whole answers came 2.07-2.70x faster on SmolLM2
(9 query heads over 3 key/value heads) and 1.34-1.58x on the tiny Llama (bench/decode_parts.py).

Registered through transformers' public AttentionInterface under its own name, with the "sdpa" mask
function, so a model switched to it builds the same boolean masks as with "sdpa". Which attention a model
uses is read from `config._attn_implementation` (transformers has no public getter); tested on both ends
of the declared range, transformers 5.16.1 and 5.19 (`make test-transformers-low`).
"""

from __future__ import annotations

from typing import Any

import torch

ATTENTION_NAME = "evalkit_gqa_sdpa"


def gqa_sdpa_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' sdpa_attention_forward, with the grouped heads handed to the kernel as they are when
    there is a mask. Otherwise (no mask, no grouped heads, a position bias or a paged cache) it is
    transformers' own call."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    plain = kwargs.get("position_bias") is None and kwargs.get("cache") is None
    if attention_mask is None or getattr(module, "num_key_value_groups", 1) == 1 or not plain:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, is_causal=is_causal, **kwargs
        )
    # With a mask, sdpa_attention_forward is never causal (the mask is); only its repeat differs.
    output = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, enable_gqa=True
    )
    return output.transpose(1, 2).contiguous(), None


def use_gqa_sdpa(model: Any) -> bool:
    """Switch `model` to this attention when it uses "sdpa" on the CPU now; True when switched. Other
    devices keep theirs: on CUDA, torch's flash and memory-efficient kernels do not take grouped heads
    with a mask (transformers' reason for its condition), and the gain was measured on the CPU only."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    if getattr(model.config, "_attn_implementation", None) != "sdpa" or model.device.type != "cpu":
        return False
    AttentionInterface.register(ATTENTION_NAME, gqa_sdpa_attention)
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
    model.set_attn_implementation(ATTENTION_NAME)
    return True
