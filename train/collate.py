"""Batch assembly: padding-free packing of a micro-batch, or classic right padding.

Packing concatenates the micro-batch's dialogs into rows of about `row_tokens` tokens with position ids
restarting at 0 for each dialog and no attention mask; transformers then builds a block-diagonal causal
mask from the position ids, so no dialog attends to another and the loss is identical to padding, while
no compute is spent on pad tokens. The first label of every dialog is masked so a dialog never learns to
predict its neighbour's first token.

Rows are as wide as the micro-batch's longest dialog (or `row_tokens` if larger), not max_length:
without a variable-length attention kernel (CPU, plain SDPA) attention over a row costs its length
squared, and measured on CPU, rows of the longest dialog's width beat both padding and longer rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from evalkit.train.render import IGNORE_INDEX


@dataclass
class PackingCollator:
    """Pack dialogs into as few rows as first-fit decreasing allows; rows are right-padded to the longest row."""

    pad_token_id: int
    row_tokens: int = 0

    def __call__(self, examples: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        ordered = sorted(examples, key=lambda item: -len(item["input_ids"]))
        capacity = max(self.row_tokens, len(ordered[0]["input_ids"]))  # a long dialog widens every row
        rows: list[list[dict[str, list[int]]]] = []
        room: list[int] = []
        for example in ordered:
            size = len(example["input_ids"])
            slot = next((index for index, free in enumerate(room) if free >= size), None)
            if slot is None:
                rows.append([example])
                room.append(capacity - size)
            else:
                rows[slot].append(example)
                room[slot] -= size
        width = max(capacity - free for free in room)
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        position_ids = torch.zeros((len(rows), width), dtype=torch.long)
        for row_index, row in enumerate(rows):
            offset = 0
            for example in row:
                size = len(example["input_ids"])
                input_ids[row_index, offset : offset + size] = torch.tensor(example["input_ids"])
                labels[row_index, offset : offset + size] = torch.tensor(example["labels"])
                labels[row_index, offset] = IGNORE_INDEX
                position_ids[row_index, offset : offset + size] = torch.arange(size)
                offset += size
            # The padded tail gets its own position run, so it forms a separate (ignored) sequence.
            position_ids[row_index, offset:] = torch.arange(width - offset)
        return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}


@dataclass
class PaddingCollator:
    """Right-pad to the longest dialog of the micro-batch, with an attention mask."""

    pad_token_id: int

    def __call__(self, examples: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(example["input_ids"]) for example in examples)
        input_ids = torch.full((len(examples), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
        for index, example in enumerate(examples):
            size = len(example["input_ids"])
            input_ids[index, :size] = torch.tensor(example["input_ids"])
            labels[index, :size] = torch.tensor(example["labels"])
            attention_mask[index, :size] = 1
        return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def make_collator(packing: bool, pad_token_id: int, row_tokens: int | None = None) -> Any:
    return PackingCollator(pad_token_id, row_tokens or 0) if packing else PaddingCollator(pad_token_id)
