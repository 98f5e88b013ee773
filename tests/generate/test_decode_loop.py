"""evalkit's decoding loop against transformers' `model.generate`: the same tokens for greedy decoding
(with and without a repetition penalty, prompts prefilled in several groups, a shared prefix prefilled
once, ended rows dropped mid-batch), seeded sampling, and the fallback to `generate` for models it does
not handle. Passes on transformers 5.16.1 and 5.19.0 (the loop uses only transformers' public cache API)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from evalkit.core.records import DecodingParams, GenerationRequest
from evalkit.data import load_prompt_set
from evalkit.generate import decode_loop, kv_cache
from evalkit.generate.chat import render
from evalkit.generate.transformers_backend import TransformersGenerator, load_model


def _chaotic_tiny_model(path: Path) -> tuple[Any, Any]:
    """The tiny model with large random weights: the fixture's small init makes it repeat one token in
    every row, which would let a wrong loop pass; these weights give each row its own token stream."""
    import torch

    model, tokenizer, _ = load_model(path, "cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model, tokenizer


def _batch(tokenizer: Any, count: int, extra_questions: Sequence[str] = (), system: str | None = None) -> Any:
    """`count` dev prompts of different lengths (and any extra questions), left-padded, longest first
    (as the backend sorts them); `system` opens every conversation with that system turn."""
    opening = [{"role": "system", "content": system}] if system else []
    messages = [opening + list(p.messages) for p in load_prompt_set("dev").prompts[:count]] + [
        opening + [{"role": "user", "content": q}] for q in extra_questions
    ]
    texts = [render(tokenizer, m) for m in messages]
    texts.sort(key=lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]), reverse=True)
    return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)


def _library_answers(
    model: Any, encoded: Any, decoding: DecodingParams, stop_ids: Sequence[int], pad_id: int
) -> list[tuple[list[int], str]]:
    import torch

    with torch.inference_mode():
        output = model.generate(
            **encoded,
            max_new_tokens=decoding.max_new_tokens,
            do_sample=False,
            repetition_penalty=decoding.repetition_penalty,
            eos_token_id=list(stop_ids),
            pad_token_id=pad_id,
        )
    answers = []
    for row in output[:, encoded["input_ids"].shape[1] :].tolist():
        stop = next((i for i, token in enumerate(row) if token in stop_ids), None)
        answers.append((row, "length") if stop is None else (row[:stop], "stop"))
    return answers


def _own_answers(model: Any, encoded: Any, decoding: DecodingParams, stop_ids: Sequence[int]) -> list[tuple[list[int], str]]:
    answers = decode_loop.decode(model, encoded["input_ids"], encoded["attention_mask"], decoding, stop_ids)
    return [(a.tokens, a.finish) for a in answers]


def _scattered_stop_token(model: Any, encoded: Any, pad_id: int) -> int:
    """A token the tiny random model first generates at different steps in different rows, and never in
    some: used as the stop token, it ends rows at scattered points (the loop's row dropping) and leaves
    others running to the limit."""
    rows = _library_answers(model, encoded, DecodingParams(greedy=True, max_new_tokens=24, repetition_penalty=1.0), [-1], pad_id)
    first_steps: dict[int, list[int | None]] = {}
    for token in {t for tokens, _ in rows for t in tokens}:
        first_steps[token] = [tokens.index(token) if token in tokens else None for tokens, _ in rows]
    candidates = {token: steps for token, steps in first_steps.items() if None in steps}
    return max(candidates, key=lambda token: len(set(candidates[token])))


# the penalty variant runs in the slow tier (a few seconds each on a shared CPU)
@pytest.mark.parametrize("repetition_penalty", [1.0, pytest.param(1.2, marks=pytest.mark.slow)])
def test_greedy_tokens_match_generate_with_groups_and_dropped_rows(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, repetition_penalty: float
) -> None:
    model, tokenizer = _chaotic_tiny_model(tiny_model_dir)
    encoded = _batch(tokenizer, 12)
    stop = _scattered_stop_token(model, encoded, tokenizer.pad_token_id)
    monkeypatch.setattr(decode_loop, "PREFILL_TOKENS", 160)  # several prefill groups of different widths
    monkeypatch.setattr(decode_loop, "COMPACT_FRACTION", 12)  # drop every ended row at once
    decoding = DecodingParams(greedy=True, max_new_tokens=24, repetition_penalty=repetition_penalty)
    ours = _own_answers(model, encoded, decoding, [stop])
    theirs = _library_answers(model, encoded, decoding, [stop], tokenizer.pad_token_id)
    assert ours == theirs
    ended = [len(tokens) for tokens, finish in ours if finish == "stop"]
    assert len(set(ended)) >= 2 and any(finish == "length" for _, finish in ours)  # rows did end at different steps


class _Spies:
    """Records what the loop's shortcuts did: the shared prefix lengths, the prefill groups placed in the
    batch's cache, and how many tokens each forward wrote to a preallocated cache layer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.prefixes: list[tuple[int, list[bool]]] = []
        self.groups = 0
        self.written: list[int] = []
        shared_prefix, place, update = (
            decode_loop._shared_prefix,
            kv_cache.PreallocatedCache.place,
            kv_cache.PreallocatedLayer.update,
        )

        def spy_prefix(*args: Any) -> tuple[int, list[bool]]:
            self.prefixes.append(shared_prefix(*args))
            return self.prefixes[-1]

        def spy_place(cache: Any, *args: Any) -> None:
            self.groups += 1
            place(cache, *args)

        def spy_update(layer: Any, key_states: Any, *args: Any, **kwargs: Any) -> Any:
            self.written.append(key_states.shape[-2])
            return update(layer, key_states, *args, **kwargs)

        monkeypatch.setattr(decode_loop, "_shared_prefix", spy_prefix)
        monkeypatch.setattr(kv_cache.PreallocatedCache, "place", spy_place)
        monkeypatch.setattr(kv_cache.PreallocatedLayer, "update", spy_update)


@pytest.mark.slow  # 5-8 s each on a shared CPU; test_the_shared_prefix_is_the_one_that_saves_most_prefill stays fast
@pytest.mark.parametrize("repetition_penalty", [1.0, 1.2])
def test_shared_prefix_and_prefill_groups_give_generates_tokens(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, repetition_penalty: float
) -> None:
    model, tokenizer = _chaotic_tiny_model(tiny_model_dir)
    system = "You are a careful assistant. Answer in plain words, briefly, and say when you are not sure."
    encoded = _batch(tokenizer, 10, ["Hi."], system=system)
    stop = _scattered_stop_token(model, encoded, tokenizer.pad_token_id)
    monkeypatch.setattr(decode_loop, "PREFILL_TOKENS", 160)  # groups whose rows need different shares of the prefix
    monkeypatch.setattr(decode_loop, "COMPACT_FRACTION", 12)  # drop every ended row at once
    spies = _Spies(monkeypatch)
    decoding = DecodingParams(greedy=True, max_new_tokens=24, repetition_penalty=repetition_penalty)
    ours = _own_answers(model, encoded, decoding, [stop])
    assert ours == _library_answers(model, encoded, decoding, [stop], tokenizer.pad_token_id)
    system_tokens = len(tokenizer(system, add_special_tokens=False)["input_ids"])
    assert spies.prefixes[0][0] > system_tokens and all(spies.prefixes[0][1])  # the system turn and the next turn's opening
    assert spies.groups >= 3  # prefilled in several groups
    assert spies.written.count(1) >= model.config.num_hidden_layers  # decoding steps wrote to the preallocated cache
    lengths = encoded["attention_mask"].sum(-1).tolist()
    assert max(lengths) - min(lengths) > spies.prefixes[0][0]  # some rows computed part of the prefix themselves


def test_a_forward_that_ignores_the_cache_is_an_error(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the cache handed to the model under a name its forward does not take, the model would build a
    cache of its own and every step would see only its own token: the loop stops at once instead."""
    model, tokenizer, _ = load_model(tiny_model_dir, "cpu")
    forward_inputs = decode_loop._forward_inputs

    def misnamed(*args: Any) -> dict[str, Any]:
        inputs = forward_inputs(*args)
        inputs["cache"] = inputs.pop("past_key_values")
        return inputs

    monkeypatch.setattr(decode_loop, "_forward_inputs", misnamed)
    with pytest.raises(RuntimeError, match="did not write its keys and values"):
        _own_answers(model, _batch(tokenizer, 2), DecodingParams(greedy=True, max_new_tokens=4), [tokenizer.eos_token_id])


def test_preallocated_layers_through_transformers_cache_api() -> None:
    """The calls transformers' attention and masks make (`update`, `get_seq_length`, `get_mask_sizes`) and
    the row selection the loop makes, on a small cache."""
    import torch

    cache = kv_cache.preallocated_cache(_small_llama_config(), capacity=6)
    assert cache is not None and len(cache.layers) == 2 and not cache.written()
    keys, values = torch.randn(3, 1, 4, 8), torch.randn(3, 1, 4, 8)
    seen_keys, seen_values = cache.update(keys, values, 0)
    assert torch.equal(seen_keys, keys) and torch.equal(seen_values, values)
    assert cache.get_seq_length(0) == 4 and cache.get_mask_sizes(1, 0) == (5, 0)
    step = torch.randn(3, 1, 1, 8)
    seen_keys, _ = cache.update(step, step, 0)
    assert torch.equal(seen_keys[:, :, 4:], step) and seen_keys.shape[2] == 5
    cache.batch_select_indices(torch.tensor([2, 0]))
    seen_keys, _ = cache.update(step[:2], step[:2], 0)
    assert torch.equal(seen_keys[:, :, :4], keys[[2, 0]]) and torch.equal(seen_keys[:, :, 5:], step[:2])
    with pytest.raises(RuntimeError, match="cache full"):
        cache.update(step[:2], step[:2], 0)


def _small_llama_config(**extra: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        **extra,
    )


def test_the_shared_prefix_is_the_one_that_saves_most_prefill() -> None:
    import torch

    def shared(*rows: list[int]) -> tuple[int, list[bool]]:
        width = max(map(len, rows))
        ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])  # left-padded, as the loop gets them
        return decode_loop._shared_prefix(ids, [len(r) for r in rows])

    common = list(range(1, 10))
    # all three share 9 tokens (saves 2 x 9); the first and last share 10 (saves 1 x 10)
    assert shared(common + [10, 11], common + [12], common + [10, 13, 14]) == (9, [True, True, True])
    # a conversation under its own system turn keeps its whole prompt to itself
    assert shared(common + [10, 11], [1, 2, 50, 51, 52, 53, 54, 55, 56, 57], common + [10, 12]) == (10, [True, False, True])
    assert shared(common + [10]) == (0, [False])  # one row: nothing to share
    assert shared(common[:7] + [99], common[:7] + [98]) == (0, [False, False])  # 7 in common: below MIN_SHARED_PREFIX
    assert shared(common, common + [10, 11]) == (8, [True, True])  # stops short of the shorter prompt's last token


def test_the_bare_model_forward_gives_the_same_tokens_as_the_fast_head(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, tokenizer = _chaotic_tiny_model(tiny_model_dir)
    encoded = _batch(tokenizer, 6)
    decoding = DecodingParams(greedy=True, max_new_tokens=16, repetition_penalty=1.2)
    fast = _own_answers(model, encoded, decoding, [tokenizer.eos_token_id])
    assert len({tuple(tokens) for tokens, _ in fast}) == len(fast)
    monkeypatch.setattr(decode_loop, "PLAIN_HEAD_ARCHITECTURES", frozenset())
    assert _own_answers(model, encoded, decoding, [tokenizer.eos_token_id]) == fast


def test_sampling_is_seeded_and_ends_at_stop_tokens(tiny_model_dir: Path, tmp_path: Path) -> None:
    generator = TransformersGenerator(tiny_model_dir, batch_size=8)
    requests = [GenerationRequest(p, 0) for p in load_prompt_set("dev").prompts[:8]]

    def sample(seed: int) -> dict[str, tuple[str, str]]:
        decoding = DecodingParams(temperature=1.0, top_p=0.95, max_new_tokens=16, seed=seed)
        return {r.prompt_hash: (r.text, r.finish_reason) for batch in generator.generate(requests, decoding) for r in batch}

    first = sample(1)
    assert sample(1) == first and sample(2) != first
    assert all(finish in {"stop", "length"} for _, finish in first.values())


def test_generate_fallback_gives_the_same_answers(tiny_model_dir: Path) -> None:
    generator = TransformersGenerator(tiny_model_dir, batch_size=8)
    assert generator.own_loop
    requests = [GenerationRequest(p, 0) for p in load_prompt_set("dev").prompts[:8]]
    decoding = DecodingParams(greedy=True, max_new_tokens=16)

    def answers() -> list[tuple[str, str | None, int | None]]:
        return sorted(
            (r.prompt_hash, r.finish_reason, r.completion_tokens) for b in generator.generate(requests, decoding) for r in b
        )

    own = answers()
    generator.own_loop = False
    assert answers() == own


def test_sliding_window_models_are_left_to_generate() -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    small = dict(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1
    )
    mistral = MistralForCausalLM(MistralConfig(sliding_window=8, **small))
    assert decode_loop.supports(LlamaForCausalLM(LlamaConfig(**small))) and not decode_loop.supports(mistral)
    with pytest.raises(ValueError, match="not a full-attention model"):
        ids = torch.ones((1, 3), dtype=torch.long)
        decode_loop.decode(mistral, ids, torch.ones_like(ids), DecodingParams(greedy=True, max_new_tokens=2), [0])


@pytest.mark.slow
def test_real_model_greedy_tokens_match_generate(smollm2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SmolLM2 on dev prompts: natural end-of-turn stops, the LIMA repetition penalty, the fast head, the
    system turn prefilled once (all at their default settings)."""
    model, tokenizer, _ = load_model(smollm2_dir, "cpu")
    encoded = _batch(tokenizer, 6, ["Say hello.", "What is the capital of France? Answer in one sentence."])
    decoding = DecodingParams(greedy=True, max_new_tokens=40, repetition_penalty=1.2)
    stop_ids = [tokenizer.eos_token_id]
    spies = _Spies(monkeypatch)
    ours = _own_answers(model, encoded, decoding, stop_ids)
    assert ours == _library_answers(model, encoded, decoding, stop_ids, tokenizer.pad_token_id)
    assert any(finish == "stop" for _, finish in ours) and any(finish == "length" for _, finish in ours)
    assert spies.prefixes[0][0] >= 20  # SmolLM's system turn
    assert spies.written.count(1) >= model.config.num_hidden_layers  # decoding steps wrote to the preallocated cache


def test_batch_width_is_bounded_by_key_value_memory(tiny_model_dir: Path) -> None:
    generator = TransformersGenerator(tiny_model_dir, device="cpu")
    config = generator.model.config
    per_position = (
        config.num_hidden_layers * 2 * config.num_key_value_heads * (config.hidden_size // config.num_attention_heads) * 4
    )
    assert decode_loop.cache_bytes_per_position(generator.model) == per_position
    assert generator.max_batch_tokens == (2 << 30) // per_position
    assert TransformersGenerator(tiny_model_dir, device="cpu", max_batch_tokens=512).max_batch_tokens == 512
