"""Batched decoding that drops each row from the batch the step it finishes.

`model.generate` keeps a finished row in the batch until the batch's longest answer ends, computing it
at every step. Real answers have natural lengths (a one-line fact beside a 500-token essay), so most of
a batch's compute went to rows that had already stopped. Here the KV cache, attention mask and positions
are narrowed to the live rows after each step, so a step costs only what its live rows need. The logits
pipeline is transformers' own processors, applied as `generate` applies them, so answers are the same.
"""

from __future__ import annotations

from collections.abc import Callable

import inspect
from typing import Any

import torch
from transformers import (
    DynamicCache,
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopPLogitsWarper,
)

from evalkit.records import DecodingParams


def logits_processors(decoding: DecodingParams) -> LogitsProcessorList:
    """The processors `generate` builds for these parameters, in its order (penalty, then temperature, top-p)."""
    processors = LogitsProcessorList()
    if decoding.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(decoding.repetition_penalty))
    if not decoding.greedy:
        if decoding.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(decoding.temperature))
        if decoding.top_p < 1.0:
            processors.append(TopPLogitsWarper(decoding.top_p))
    return processors


@torch.inference_mode()
def decode_dropping_finished(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, decoding: DecodingParams,
                             stop_ids: list[int], on_step: Callable[[int, int], None] | None = None) -> list[list[int]]:
    """New tokens of each left-padded row, each ending at its first stop id (kept) or at max_new_tokens.
    `on_step(rows that produced a token, rows that just finished)` after each step, for progress."""
    processors = logits_processors(decoding)
    answers: list[list[int]] = [[] for _ in range(input_ids.shape[0])]
    live = torch.arange(input_ids.shape[0], device=input_ids.device)  # original row of each row still running
    stops = torch.tensor(stop_ids, device=input_ids.device)
    cache = DynamicCache(config=model.config)
    # transformers 5 renamed the forward's `past_key_values` to `cache` (the old name warns, then goes in 5.40).
    cache_kwarg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    # Left padding: a row's positions count its real tokens only, as `generate` computes them.
    positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
    sequences, step_input = input_ids, input_ids
    for step in range(decoding.max_new_tokens):
        logits = model(input_ids=step_input, attention_mask=attention_mask, position_ids=positions, use_cache=True,
                       **{cache_kwarg: cache}, logits_to_keep=1).logits[:, -1, :].float()
        scores = processors(sequences, logits)
        if decoding.greedy:
            tokens = scores.argmax(-1)
        else:
            tokens = torch.multinomial(scores.softmax(-1), num_samples=1).squeeze(1)
        for row, token in zip(live.tolist(), tokens.tolist()):
            answers[row].append(token)
        running = ~torch.isin(tokens, stops)
        if on_step is not None:
            on_step(len(tokens), int((~running).sum()))
        if step == decoding.max_new_tokens - 1 or not bool(running.any()):
            break
        if not bool(running.all()):
            keep = running.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            live, sequences, attention_mask = live[keep], sequences[keep], attention_mask[keep]
            positions, tokens = positions[keep], tokens[keep]
        sequences = torch.cat([sequences, tokens[:, None]], dim=1)
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones((len(live), 1))], dim=1)
        positions = positions[:, -1:] + 1
        step_input = tokens[:, None]
    return answers
