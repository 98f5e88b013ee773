"""A key/value cache that is written in place and can drop finished rows.

transformers' DynamicCache concatenates every step (`torch.cat` of the whole cache, per layer): on a CPU
that copy was 15% of a decoding step of SmolLM2-135M at 24 rows. Its StaticCache avoids the copy but
attends over its whole preallocated length every step. This layer preallocates (prompt + new tokens)
positions, writes each step into the next free slice, and hands attention a view of the filled part;
`batch_select_indices` (the Cache API beam search uses) keeps only the rows still generating.

Built on transformers' public cache API only: a `Cache` of `CacheLayerMixin` layers, passed to the model
as `past_key_values`, and `DynamicCache(config=...)` to tell which models have a full-attention cache in
every layer. Tested with transformers 5.16.1 to 5.19.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers.cache_utils import Cache, CacheLayerMixin, DynamicCache, DynamicLayer


class PreallocatedLayer(CacheLayerMixin):
    """One layer's keys and values: `capacity` columns allocated at the first write, the first `length`
    filled. The buffers are the layer's `keys` and `values` (rows x heads x capacity x head size)."""

    is_sliding = False

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self._allocate(key_states.shape[0], key_states, value_states)

    def _allocate(self, rows: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        # zeros, not empty: columns left of a short group's prompts are masked, but masked garbage can be
        # NaN, and attention's 0 x NaN is NaN
        self.device = keys.device
        self.keys = keys.new_zeros((rows, keys.shape[1], self.capacity, keys.shape[3]))
        self.values = values.new_zeros((rows, values.shape[1], self.capacity, values.shape[3]))
        self.is_initialized = True

    def _buffers(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys is None or self.values is None:
            raise RuntimeError("key/value cache layer read before anything was written to it")
        return self.keys, self.values

    def filled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The written part of the buffers: what attention reads."""
        keys, values = self._buffers()
        return keys[:, :, : self.length], values[:, :, : self.length]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise RuntimeError(f"key/value cache full: {end} positions needed, {self.capacity} preallocated")
        keys, values = self._buffers()
        keys[:, :, self.length : end] = key_states
        values[:, :, self.length : end] = value_states
        self.length = end
        return self.filled()

    def get_seq_length(self) -> int:
        return self.length

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        """(columns the attention mask covers, offset of the first): the filled part and the new tokens."""
        return self.length + query_length, 0

    def get_max_length(self) -> int:
        return self.capacity

    def reset(self) -> None:
        super().reset()
        self.length = 0

    def place(self, rows: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, total_rows: int, width: int) -> None:
        """Copy a separately prefilled group of rows (their indices in the batch) into this batch's buffers,
        right-aligned at `width` (left padding stays in front, so every row's last prompt token sits in
        column width - 1)."""
        if not self.is_initialized:
            self._allocate(total_rows, keys, values)
        own_keys, own_values = self._buffers()
        own_keys[rows, :, width - keys.shape[2] : width] = keys
        own_values[rows, :, width - values.shape[2] : width] = values
        self.length = width

    def seed(self, rows: int, prefix: PreallocatedLayer, counts: Sequence[int], end: int) -> None:
        """Give row r the first counts[r] positions of a one-row `prefix`, ending at column `end` (the
        first tokens of its prompt, right before the columns the next forward computes); the layer is then
        `end` long. Rows with a count of 0 or less get none."""
        prefix_keys, prefix_values = prefix._buffers()
        self._allocate(rows, prefix_keys, prefix_values)
        keys, values = self._buffers()
        for row, count in enumerate(counts):
            if count > 0:
                keys[row, :, end - count : end] = prefix_keys[0, :, :count]
                values[row, :, end - count : end] = prefix_values[0, :, :count]
        self.length = end

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            # index_select copies only the kept rows (the whole capacity, so later steps still write in place)
            keys, values = self._buffers()
            self.keys, self.values = keys.index_select(0, indices), values.index_select(0, indices)

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self.batch_select_indices(beam_idx)


class PreallocatedCache(Cache):
    def __init__(self, layers: list[PreallocatedLayer]) -> None:
        super().__init__(layers=list(layers))
        self.preallocated = layers

    def written(self) -> bool:
        """Whether a forward wrote to this cache (a model that ignored it would leave it empty)."""
        return all(layer.is_initialized for layer in self.preallocated)

    def seed(self, prefix: PreallocatedCache, counts: Sequence[int], end: int) -> None:
        """Start every row with its share of a prefilled common prefix (see PreallocatedLayer.seed)."""
        for layer, filled in zip(self.preallocated, prefix.preallocated):
            layer.seed(len(counts), filled, counts, end)

    def place(self, rows: torch.Tensor, group: PreallocatedCache, total_rows: int, width: int) -> None:
        """Copy a group of rows prefilled in `group` into this batch's cache (see PreallocatedLayer.place)."""
        for layer, filled in zip(self.preallocated, group.preallocated):
            layer.place(rows, *filled.filled(), total_rows, width)


def full_attention_layers(config: Any) -> int | None:
    """How many cache layers a model has when every one attends over the full context, read as
    transformers' own DynamicCache reads the config; None for sliding-window, chunked, hybrid or
    linear-attention models, which keep transformers' own cache."""
    layers = DynamicCache(config=config).layers
    if not layers or any(type(layer) is not DynamicLayer for layer in layers):
        return None
    return len(layers)


def preallocated_cache(config: Any, capacity: int) -> PreallocatedCache | None:
    """A cache of `capacity` positions per row for a full-attention model (see full_attention_layers)."""
    count = full_attention_layers(config)
    if count is None:
        return None
    return PreallocatedCache([PreallocatedLayer(capacity) for _ in range(count)])
