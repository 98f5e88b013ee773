"""A key/value cache that is written in place and can drop finished rows.

transformers' DynamicCache concatenates every step (`torch.cat` of the whole cache, per layer): on a CPU
that copy was 15% of a decoding step of SmolLM2-135M at 24 rows. Its StaticCache avoids the copy but
attends over its whole preallocated length every step. This layer preallocates (prompt + new tokens)
positions, writes each step into the next free slice, and hands attention a view of the filled part;
`batch_select_indices` (the Cache API beam search uses) keeps only the rows still generating.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer, get_layer_types_and_kwargs


class PreallocatedLayer(DynamicLayer):
    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.length = 0
        self.slots: tuple[torch.Tensor, torch.Tensor, int] | None = None  # (rows, columns, length): a ragged step

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self._allocate(key_states.shape[0], key_states, value_states)

    def _allocate(self, rows: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        # zeros, not empty: columns left of a short group's prompts are masked, but masked garbage can be
        # NaN, and attention's 0 x NaN is NaN
        self.device = keys.device
        self.key_buffer = keys.new_zeros((rows, keys.shape[1], self.capacity, keys.shape[3]))
        self.value_buffer = values.new_zeros((rows, values.shape[1], self.capacity, values.shape[3]))
        self.is_initialized = True

    def _expose(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The filled part of the buffers, as the keys and values attention reads."""
        keys, values = self.key_buffer[:, :, : self.length], self.value_buffer[:, :, : self.length]
        self.keys, self.values = keys, values
        return keys, values

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.slots is not None:
            rows, columns, length = self.slots
            if length > self.capacity:
                raise RuntimeError(f"key/value cache full: {length} positions needed, {self.capacity} preallocated")
            self.key_buffer[rows, :, columns] = key_states[0].transpose(0, 1)
            self.value_buffer[rows, :, columns] = value_states[0].transpose(0, 1)
            self.length = length
            return self._expose()
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise RuntimeError(f"key/value cache full: {end} positions needed, {self.capacity} preallocated")
        self.key_buffer[:, :, self.length : end] = key_states
        self.value_buffer[:, :, self.length : end] = value_states
        self.length = end
        return self._expose()

    def get_seq_length(self) -> int:
        return self.length

    def place(self, rows: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, total_rows: int, width: int) -> None:
        """Copy a separately prefilled group of rows (their indices in the batch) into this batch's buffers,
        right-aligned at `width` (left padding stays in front, so every row's last prompt token sits in
        column width - 1)."""
        if not self.is_initialized:
            self._allocate(total_rows, keys, values)
        self.key_buffer[rows, :, width - keys.shape[2] : width] = keys
        self.value_buffer[rows, :, width - values.shape[2] : width] = values
        self.length = width
        self._expose()

    def seed(self, rows: int, prefix: PreallocatedLayer, counts: Sequence[int], end: int) -> None:
        """Give row r the first counts[r] positions of a one-row `prefix`, ending at column `end` (the
        first tokens of its prompt, right before the columns the next forward computes); the layer is then
        `end` long. Rows with a count of 0 or less get none."""
        self._allocate(rows, prefix.key_buffer, prefix.value_buffer)
        for row, count in enumerate(counts):
            if count > 0:
                self.key_buffer[row, :, end - count : end] = prefix.key_buffer[0, :, :count]
                self.value_buffer[row, :, end - count : end] = prefix.value_buffer[0, :, :count]
        self.length = end
        self._expose()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            # index_select copies only the kept rows (the whole capacity, so later steps still write in place)
            self.key_buffer = self.key_buffer.index_select(0, indices)
            self.value_buffer = self.value_buffer.index_select(0, indices)
            self._expose()


class PreallocatedCache(Cache):
    def __init__(self, layers: list[PreallocatedLayer]) -> None:
        super().__init__(layers=list(layers))
        self.preallocated = layers

    def seed(self, prefix: PreallocatedCache, counts: Sequence[int], end: int) -> None:
        """Start every row with its share of a prefilled common prefix (see PreallocatedLayer.seed)."""
        for layer, filled in zip(self.preallocated, prefix.preallocated):
            layer.seed(len(counts), filled, counts, end)

    def write_at(self, slots: tuple[torch.Tensor, torch.Tensor, int] | None) -> None:
        """Until called with None, forwards feed packed tokens (1 x tokens) and token i's keys and values go
        to row rows[i], column columns[i]; attention then reads `length` columns (see ragged.RaggedStep)."""
        for layer in self.preallocated:
            layer.slots = slots

    def place(self, rows: torch.Tensor, group: PreallocatedCache, total_rows: int, width: int) -> None:
        """Copy a group of rows prefilled in `group` into this batch's cache (see PreallocatedLayer.place)."""
        for layer, filled in zip(self.preallocated, group.preallocated):
            layer.place(
                rows, filled.key_buffer[:, :, : filled.length], filled.value_buffer[:, :, : filled.length], total_rows, width
            )


def preallocated_cache(config: Any, capacity: int) -> PreallocatedCache | None:
    """A cache for a model whose every layer attends over the full context; None for sliding-window,
    hybrid or linear-attention models, which keep transformers' own cache."""
    layer_types, _ = get_layer_types_and_kwargs(config.get_text_config(decoder=True))  # transformers' own reading
    if any(kind != "full_attention" for kind in layer_types):
        return None
    return PreallocatedCache([PreallocatedLayer(capacity) for _ in layer_types])
