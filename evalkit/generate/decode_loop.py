"""Batched decoding that stops computing an answer once it has ended.

`model.generate` keeps every row of a batch in every step until the last row ends, so a batch whose
answers have natural lengths (one ends after 40 tokens, another runs to the limit) pays full width to the
end, and its DynamicCache copies the whole cache every step. This loop is the same greedy/sampling
decode on the same model forward and transformers' own logits processors, with these changes:
  - the key/value cache is preallocated and written in place (`kv_cache.PreallocatedLayer`);
  - rows that ended are dropped from the batch (cache, mask, history) once they are an eighth of it,
    so the matmuls shrink with the work left;
  - prompts are prefilled in groups of similar length, each padded only to its own longest prompt, then
    placed side by side in the batch's cache: one long prompt no longer pads the whole batch's prefill;
  - the tokens most prompts start with (the chat template's system turn: 24 tokens in 47 of the 50 dev
    prompts on SmolLM2, 29% of their prompt tokens) are prefilled once and copied into those rows;
  - each decoding step's attention skips the left padding of runs of similarly padded rows
    (`row_group_attention`);
  - on CPU the linear layers multiply with oneDNN on packed weights (`packed_linear`), much faster than
    MKL at a step's few dozen rows; sums in another order, so greedy answers equal generate's unless a
    near-tie falls the other way (with it off they are identical, and the tests check that);
  - greedy decoding without logits processors feeds draft tokens where a row's own prompt and answer
    suggest them (prompt lookup: a small model copies phrases and repeats itself) and keeps those the
    model agrees with, so a step can yield several tokens of a row; rows then feed different numbers of
    tokens and end at different cache columns (`ragged`). Same answers as one token per step: on the 50
    dev prompts at most 512 new tokens, SmolLM2 took 374 steps instead of 512, 1.08-1.12x the speed on a
    CPU (where each fed token costs nearly a row's compute; a GPU, where it costs far less, should gain
    more: not measured);
  - for architectures whose head is a plain linear layer, only the last position reaches the head, and
    on MKL the logits are computed as W @ h^T: with few rows and a 49k-word vocabulary MKL runs that
    orientation 30% faster on this CPU (same products).
Models whose cache is not one full-attention layer per layer (sliding windows, linear attention) are
not handled here; the backend uses `model.generate` for them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import torch
from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopPLogitsWarper

from evalkit.generate import packed_linear, prompt_lookup, row_group_attention
from evalkit.generate.kv_cache import PreallocatedCache, preallocated_cache
from evalkit.generate.progress import StepCallback
from evalkit.generate.ragged import RaggedStep
from evalkit.records import DecodingParams

COMPACT_FRACTION = 8  # drop ended rows once they are 1/8 of the batch: each drop copies the cache once
PREFILL_TOKENS = 1024  # a prefill group's rows x width: enough rows for efficient matmuls, little padding
SPECULATE = True  # module switch for prompt-lookup drafts (greedy without logits processors)
MIN_SHARED_PREFIX = 8  # tokens: a shorter common prefix saves less than its separate forward costs
# Causal LMs whose forward is exactly lm_head(decoder(...)): no logit soft-capping or scaling to reproduce.
PLAIN_HEAD_ARCHITECTURES = frozenset({"LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM"})


@dataclass
class Answer:
    tokens: list[int]  # the generated tokens before the stop token
    finish: str  # "stop" (an end-of-turn token was generated) or "length"


def logits_processors(decoding: DecodingParams, padding: torch.Tensor) -> LogitsProcessorList:
    """The processors `model.generate` applies for these settings, in its order; `padding` (each row's
    left padding) keeps pad tokens out of the repetition penalty, as generate does."""
    processors = LogitsProcessorList()
    if decoding.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(decoding.repetition_penalty, prompt_ignore_length=padding))
    if not decoding.greedy:
        if decoding.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(decoding.temperature))
        if decoding.top_p < 1.0:
            processors.append(TopPLogitsWarper(decoding.top_p))
    return processors


def supports(model: Any) -> bool:
    return preallocated_cache(model.config, 1) is not None


def cache_bytes_per_position(model: Any) -> int:
    """Key/value bytes one token of one row holds: layers x (key + value) x kv heads x head size x dtype."""
    config = model.config.get_text_config(decoder=True)
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    element = torch.finfo(model.dtype).bits // 8
    return int(config.num_hidden_layers * 2 * heads * head_dim * element)


@torch.inference_mode()
def decode(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    decoding: DecodingParams,
    stop_ids: Sequence[int],
    on_step: StepCallback | None = None,
) -> list[Answer]:
    """Answers for a left-padded batch, one per row, in row order."""
    with row_group_attention.enabled(model) as grouped, packed_linear.enabled(model) as packed:
        return _decode(model, input_ids, attention_mask, decoding, stop_ids, on_step, grouped, packed)


def _decode(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    decoding: DecodingParams,
    stop_ids: Sequence[int],
    on_step: StepCallback | None,
    grouped: bool,
    packed: bool,
) -> list[Answer]:
    rows, width = input_ids.shape
    padding = (attention_mask != 0).int().argmax(dim=1)
    processors = logits_processors(decoding, padding)
    if SPECULATE and grouped and decoding.greedy and not processors:  # drafts: logits that depend on the tokens alone
        return _decode_with_drafts(model, input_ids, attention_mask, decoding, stop_ids, on_step, grouped, packed)
    cache = _new_cache(model, width + decoding.max_new_tokens)
    logits_of = _logits_function(model, packed)
    stops = torch.tensor(list(stop_ids), device=input_ids.device)
    answers: list[list[int]] = [[] for _ in range(rows)]
    finish = ["length"] * rows
    present = torch.arange(rows, device=input_ids.device)  # original row of each batch row
    ended = torch.zeros(rows, dtype=torch.bool, device=input_ids.device)  # ended rows not yet dropped
    history = cast(torch.LongTensor, input_ids)  # the repetition penalty reads the prompt and the answer so far
    mask = attention_mask
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = _prefill(model, logits_of, input_ids, attention_mask, positions, cache)
    row_groups = row_group_attention.plan(padding.tolist()) if grouped else None
    for step in range(decoding.max_new_tokens):
        scores = processors(history, logits)
        if decoding.greedy:
            chosen = scores.argmax(-1)
        else:
            chosen = torch.multinomial(scores.softmax(-1), num_samples=1).squeeze(1)
        stopped = torch.isin(chosen, stops) & ~ended
        for row, token, is_stop, done in zip(present.tolist(), chosen.tolist(), stopped.tolist(), ended.tolist()):
            if done:
                continue
            if is_stop:
                finish[row] = "stop"
            else:
                answers[row].append(token)
        if on_step is not None:
            on_step(int((~ended).sum()), int(stopped.sum()))
        ended |= stopped
        if bool(ended.all()) or step == decoding.max_new_tokens - 1:
            break
        history = cast(torch.LongTensor, torch.cat([history, chosen[:, None]], dim=1))
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        positions = positions[:, -1:] + 1
        step_input = chosen[:, None]
        if int(ended.sum()) * COMPACT_FRACTION >= len(present):
            keep = (~ended).nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            present, mask, positions, step_input = (t[keep] for t in (present, mask, positions, step_input))
            history = cast(torch.LongTensor, history[keep])
            ended, padding = ended[keep], padding[keep]
            processors = logits_processors(decoding, padding)
            row_groups = row_group_attention.plan(padding.tolist()) if grouped else None
        logits = logits_of(step_input, mask, positions, cache, row_groups, 1)[:, -1]
    return [Answer(tokens, reason) for tokens, reason in zip(answers, finish)]


def _decode_with_drafts(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    decoding: DecodingParams,
    stop_ids: Sequence[int],
    on_step: StepCallback | None,
    grouped: bool,
    packed: bool,
) -> list[Answer]:
    """Greedy decoding where a step feeds each row its next token and, where its prompt and answer so far
    suggest them, draft tokens (prompt_lookup); a row keeps the drafts the model agrees with and the model's
    own token after them, so the answers are the one-token loop's. Rows then end at different cache
    columns: steps run ragged (ragged.RaggedStep), each row feeding only its own tokens."""
    rows, width = input_ids.shape
    device = input_ids.device
    cache = _new_cache(model, width + decoding.max_new_tokens + prompt_lookup.MAX_DRAFT + 1)
    logits_of = _logits_function(model, packed)
    stops = set(stop_ids)
    answers: list[list[int]] = [[] for _ in range(rows)]
    finish = ["length"] * rows
    present = list(range(rows))  # original row of each batch row
    ended = [False] * rows  # per batch row: ended, not yet dropped
    positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = _prefill(model, logits_of, input_ids, attention_mask, positions, cache)[:, None]
    starts = (attention_mask != 0).int().argmax(dim=1)  # each row's first cache column
    # where the last feed started, per row: its cache column and position (prefill: the last prompt token)
    feed_column, feed_position = torch.full((rows,), width - 1, device=device), positions[:, -1]
    lookup = prompt_lookup.PromptLookup({row: input_ids[row, int(starts[row]) :].tolist() for row in range(rows)})
    planner = prompt_lookup.DraftPlanner()
    drafts: list[list[int]] = [[] for _ in range(rows)]  # per batch row: the draft tokens the last step fed
    row_groups = row_group_attention.plan(starts.tolist()) if grouped else None
    offsets = list(range(rows + 1))  # where each batch row's tokens start among the last step's logits
    began: float | None = None
    while True:
        choices = logits.argmax(-1).view(-1).tolist()  # the model's token after each fed token
        seconds = time.perf_counter() - began if began is not None else None
        kept_columns, last, outcomes, produced, finished = [], [], {}, 0, 0
        for index, (row, guess) in enumerate(zip(present, drafts)):
            choice = choices[offsets[index] : offsets[index + 1]]
            agreed = next((j for j, token in enumerate(guess) if token != choice[j]), len(guess))
            tokens = guess[:agreed] + [choice[agreed]]  # what one-token steps would have chosen
            kept_columns.append(len(tokens))
            last.append(tokens[-1])
            if ended[index]:
                continue
            outcomes[row] = (len(guess), agreed)
            tokens = tokens[: decoding.max_new_tokens - len(answers[row])]
            for token in tokens:
                produced += 1
                if token in stops:
                    finish[row], ended[index] = "stop", True
                    finished += 1
                    break
                answers[row].append(token)
            ended[index] = ended[index] or len(answers[row]) == decoding.max_new_tokens
            if not ended[index]:
                lookup.extend(row, tokens)
        if seconds is not None:
            planner.observe(sum(map(len, drafts)), seconds, outcomes)
        if on_step is not None:
            on_step(produced, finished)
        if all(ended):
            break
        # ended rows stay where they are (their later outputs are never read), so no row outgrows the cache
        fed = torch.tensor([0 if done else count for count, done in zip(kept_columns, ended)], device=device)
        feed_column, feed_position = feed_column + fed, feed_position + fed  # where the next feed starts
        if sum(ended) * COMPACT_FRACTION >= len(ended):
            keep_rows = [index for index, done in enumerate(ended) if not done]
            keep = torch.tensor(keep_rows, device=device)
            cache.batch_select_indices(keep)
            starts, feed_column, feed_position = starts[keep], feed_column[keep], feed_position[keep]
            present, last, ended = [present[i] for i in keep_rows], [last[i] for i in keep_rows], [False] * len(keep_rows)
            row_groups = row_group_attention.plan(starts.tolist()) if grouped else None
        guesses = {row: lookup.draft(row, planner.max_draft) for row, done in zip(present, ended) if not done}
        lengths = planner.choose({row: len(guess) for row, guess in guesses.items()})
        drafts = [guesses[row][: lengths.get(row, 0)] if row in guesses else [] for row in present]
        feed = [[token] + guess for token, guess in zip(last, drafts)]
        offsets = [0]
        for tokens in feed:
            offsets.append(offsets[-1] + len(tokens))
        step = RaggedStep.plan(starts, feed_column, [len(tokens) for tokens in feed], row_groups or [(0, len(feed), 0)])
        step_ids = torch.tensor([token for tokens in feed for token in tokens], device=device)[None, :]
        step_positions = (feed_position[step.rows] + step.columns - feed_column[step.rows])[None, :]
        began = time.perf_counter()
        cache.write_at((step.rows, step.columns, step.length))
        try:
            logits = logits_of(step_ids, None, step_positions, cache, row_groups, offsets[-1], ragged=step)
        finally:
            cache.write_at(None)
    return [Answer(tokens, reason) for tokens, reason in zip(answers, finish)]


def _new_cache(model: Any, capacity: int) -> PreallocatedCache:
    cache = preallocated_cache(model.config, capacity)
    if cache is None:
        raise ValueError(f"{type(model).__name__}: not a full-attention model; use model.generate")
    return cache


class Logits(Protocol):
    def __call__(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor | None,
        positions: torch.Tensor,
        cache: PreallocatedCache,
        groups: row_group_attention.RowGroups | None,
        keep: int,
        ragged: RaggedStep | None = None,
    ) -> torch.Tensor: ...


def _logits_function(model: Any, packed: bool = False) -> Logits:
    """(input ids, attention mask, position ids, cache, row groups, keep, ragged step) -> fp32 logits of each
    row's last `keep` positions (rows x keep x vocabulary); the row groups and a ragged step's plan reach
    row_group_attention through the model's keyword arguments. With `packed` the model's linear layers run on oneDNN (packed_linear), the head included."""
    plain = type(model).__name__ in PLAIN_HEAD_ARCHITECTURES
    if plain and (packed or getattr(model.lm_head, "bias", None) is None):
        decoder, lm_head = model.model, model.lm_head
        head: Callable[[torch.Tensor], torch.Tensor] = lm_head  # on oneDNN when packed
        if not packed:  # MKL: W @ h^T, the faster orientation (no bias to add)
            head = lambda last: torch.mm(lm_head.weight, last.t()).t()  # noqa: E731

        def plain_head(
            ids: torch.Tensor,
            mask: torch.Tensor | None,
            positions: torch.Tensor,
            cache: PreallocatedCache,
            groups: Any,
            keep: int,
            ragged: RaggedStep | None = None,
        ) -> torch.Tensor:
            hidden = decoder(**_forward_inputs(ids, mask, positions, cache, groups, ragged))
            last = hidden.last_hidden_state[:, -keep:, :]
            return head(last.reshape(-1, last.shape[-1])).float().view(last.shape[0], keep, -1)

        return plain_head

    def model_head(
        ids: torch.Tensor,
        mask: torch.Tensor | None,
        positions: torch.Tensor,
        cache: PreallocatedCache,
        groups: Any,
        keep: int,
        ragged: RaggedStep | None = None,
    ) -> torch.Tensor:
        output = model(**_forward_inputs(ids, mask, positions, cache, groups, ragged), logits_to_keep=keep)
        return output.logits[:, -keep:, :].float()

    return model_head


def _forward_inputs(
    ids: torch.Tensor,
    mask: torch.Tensor | None,
    positions: torch.Tensor,
    cache: PreallocatedCache,
    groups: Any,
    ragged: RaggedStep | None,
) -> dict[str, Any]:
    """The keyword arguments of a cached forward; transformers hands `row_groups` and `ragged` on to every
    layer's attention."""
    return {
        "input_ids": ids,
        "attention_mask": mask,
        "position_ids": positions,
        "cache": cache,
        "use_cache": True,
        "row_groups": groups,
        "ragged": ragged,
    }


def _prefill(
    model: Any,
    logits_of: Logits,
    input_ids: torch.Tensor,
    mask: torch.Tensor,
    positions: torch.Tensor,
    cache: PreallocatedCache,
) -> torch.Tensor:
    """Prefill the prompts in groups of rows with similar lengths, each group cut to its own longest prompt,
    and place each group's keys and values in the batch's cache. The tokens most prompts start with (a chat
    template's system turn) are prefilled once and copied into those rows, which then compute only the rest;
    groups are formed by that rest."""
    rows, width = input_ids.shape
    lengths = [int(n) for n in mask.sum(-1).tolist()]
    shared, sharing = _shared_prefix(input_ids, lengths)
    prefix = None
    if shared:
        first = sharing.index(True)
        prefix = _prefill_prefix(model, logits_of, input_ids[first : first + 1, width - lengths[first] :][:, :shared])
    own = [n - shared if shares else n for n, shares in zip(lengths, sharing)]  # the tokens each row computes
    order = sorted(range(rows), key=lambda row: own[row], reverse=True)
    logits: torch.Tensor | None = None
    start = 0
    while start < rows:
        group = order[start : start + max(1, PREFILL_TOKENS // max(1, own[order[start]]))]
        group_width, computed = max(lengths[row] for row in group), max(own[row] for row in group)
        group_cache = _new_cache(model, group_width)
        if prefix is not None:  # a sharing row's prompt tokens left of the computed columns are prefix tokens
            group_cache.seed(prefix, [lengths[row] - computed if sharing[row] else 0 for row in group], group_width - computed)
        index = torch.tensor(group, device=input_ids.device)
        group_logits = logits_of(
            input_ids[index, width - computed :],
            mask[index, width - group_width :],
            positions[index, width - computed :],
            group_cache,
            None,
            1,
        )[:, -1]
        if logits is None:
            logits = group_logits.new_empty((rows, group_logits.shape[1]))
        logits[index] = group_logits
        cache.place(index, group_cache, rows, width)
        start += len(group)
    assert logits is not None
    return logits


def _shared_prefix(input_ids: torch.Tensor, lengths: list[int]) -> tuple[int, list[bool]]:
    """The leading prompt tokens that most rows have in common (left padding aside), and which rows have
    them: a batch of conversations under one system turn, with a few under their own. Chosen to save the
    most prefill ((sharing rows - 1) x length), never reaching a sharing row's last token (its logits start
    the answer); length 0 when it is shorter than MIN_SHARED_PREFIX."""
    rows, width = input_ids.shape
    prompts = [input_ids[row, width - n :].tolist() for row, n in enumerate(lengths)]
    members = list(range(rows))
    best: tuple[int, list[int]] = (0, [])
    best_saving = 0
    for position in range(max(lengths, default=0)):
        candidates = [row for row in members if position < lengths[row] - 1]
        if len(candidates) < 2:
            break
        token, _ = Counter(prompts[row][position] for row in candidates).most_common(1)[0]
        members = [row for row in candidates if prompts[row][position] == token]
        if len(members) < 2:
            break
        if (len(members) - 1) * (position + 1) > best_saving:
            best, best_saving = (position + 1, members), (len(members) - 1) * (position + 1)
    length, sharing = best
    if length < MIN_SHARED_PREFIX:
        return 0, [False] * rows
    chosen = set(sharing)
    return length, [row in chosen for row in range(rows)]


def _prefill_prefix(model: Any, logits_of: Logits, prefix_ids: torch.Tensor) -> PreallocatedCache:
    """The shared prefix's keys and values, computed once (positions 0.., no padding, as in every row)."""
    cache = _new_cache(model, prefix_ids.shape[1])
    positions = torch.arange(prefix_ids.shape[1], device=prefix_ids.device)[None, :]
    logits_of(prefix_ids, torch.ones_like(prefix_ids), positions, cache, None, 1)
    return cache
