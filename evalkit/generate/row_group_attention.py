"""Decoding-step attention that skips the left padding of each group of rows.

A batch's key/value cache is as wide as its longest prompt plus the tokens generated so far, and a row
with a short prompt is left-padded to that width. One SDPA call over the whole batch reads every row's
padding columns: masked, but read all the same, and a decoding step's attention is bound by those reads
(on the 50 dev prompts at most 128 new tokens, 56% of the columns attention read were padding). The
decode loop's rows are sorted by prompt length, so their padding is ordered: this attention splits the
batch into runs of rows with similar padding and hands each run's SDPA call only the columns from the
run's first prompt token on. Each call is transformers' own `sdpa_attention_forward`; the columns it no
longer sees were masked out.

Steps that feed several tokens per row (draft tokens) attend the same way, with the query heads that
share a key/value head folded together instead of copying the keys (`_attend`), and steps whose rows feed
different numbers of tokens go through `ragged.RaggedStep`.

The decode loop passes the plan as the `row_groups` keyword, which transformers forwards from the model
call to every layer's attention function; without it this is plain SDPA.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from evalkit.generate.ragged import RaggedStep

NAME = "evalkit_row_groups"
# A split costs one more SDPA call per layer (~0.1 ms) and saves (rows after it) x (columns) of reads:
# a few dozen columns of one row already pay for it.
MIN_SAVED_COLUMNS = 32

RowGroups = list[tuple[int, int, int]]  # (first row, end row, first column the rows attend to)


def plan(padding: Sequence[int]) -> RowGroups:
    """Runs of consecutive rows whose left padding differs by less than MIN_SAVED_COLUMNS; each run starts
    at its least-padded row's first column. Rows not sorted by padding get one group (nothing to skip
    without reordering the batch)."""
    rows = len(padding)
    if rows == 0:
        return []
    if any(later < earlier for earlier, later in zip(padding, padding[1:])):
        return [(0, rows, min(padding))]
    groups: RowGroups = []
    start = 0
    for row in range(1, rows + 1):
        if row == rows or padding[row] - padding[start] >= MIN_SAVED_COLUMNS:
            groups.append((start, row, padding[start]))
            start = row
    return groups


def attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *args: Any,
    row_groups: RowGroups | None = None,
    ragged: RaggedStep | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    if ragged is not None:  # packed tokens of rows that feed different numbers of them: attention per run of rows
        return ragged.attend(lambda q, k, v, mask: _attend(module, q, k, v, mask, *args, **kwargs), query, key, value), None
    if attention_mask is None or not row_groups:
        return sdpa_attention_forward(module, query, key, value, attention_mask, *args, **kwargs)
    outputs = [
        _attend(module, query[a:b], key[a:b, :, c:], value[a:b, :, c:], attention_mask[a:b, ..., c:], *args, **kwargs)
        for a, b, c in row_groups
    ]
    return (outputs[0] if len(outputs) == 1 else torch.cat(outputs)), None


def _attend(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor,
    *args: Any,
    **kwargs: Any,
) -> torch.Tensor:
    """SDPA on the key/value heads as stored. For one query token transformers folds the query heads that
    share a key/value head into one (`pack_gqa`); for several (a step that checks draft tokens) it copies
    every key and value once per sharing head (`repeat_kv`), which made such a step's attention 2.5-9x as
    slow on SmolLM2 (3 heads share each; bench/decode_parts.py). Folding works for several query tokens too: the sharing heads' queries
    become more query rows of their key/value head, each with its token's mask row."""
    sharing = getattr(module, "num_key_value_groups", 1)
    rows, heads, tokens, size = query.shape
    if tokens == 1 or sharing == 1 or mask.shape[1] != 1 or kwargs.get("dropout", 0.0) or kwargs.get("softcap") is not None:
        return sdpa_attention_forward(module, query, key, value, mask, *args, **kwargs)[0]
    kv_heads = heads // sharing
    folded_query = query.reshape(rows, kv_heads, sharing * tokens, size)
    folded_mask = mask.unsqueeze(2).expand(-1, mask.shape[1], sharing, -1, -1).reshape(rows, mask.shape[1], sharing * tokens, -1)
    output = torch.nn.functional.scaled_dot_product_attention(
        folded_query, key, value, attn_mask=folded_mask, scale=kwargs.get("scaling")
    )
    return output.reshape(rows, heads, tokens, size).transpose(1, 2).contiguous()


AttentionInterface.register(NAME, attention)
AttentionMaskInterface.register(NAME, sdpa_mask)  # the same masks as SDPA


@contextmanager
def enabled(model: Any) -> Iterator[bool]:
    """Use this attention while the block runs, for a model on SDPA; yields whether it is in use."""
    previous = model.config._attn_implementation
    if previous != "sdpa":
        yield False
        return
    model.set_attn_implementation(NAME)
    try:
        yield True
    finally:
        model.set_attn_implementation(previous)
