"""evalkit's decoding loop against transformers' `model.generate`: the same tokens for greedy decoding
(with and without a repetition penalty, prompts prefilled in several groups, ended rows dropped
mid-batch), seeded sampling, and the fallback to `generate` for models it does not handle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from evalkit.data import load_prompt_set
from evalkit.generate import decode_loop
from evalkit.generate.chat import render
from evalkit.generate.transformers_backend import TransformersGenerator, load_model
from evalkit.records import DecodingParams, GenerationRequest


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


def _batch(tokenizer: Any, count: int, extra_questions: Sequence[str] = ()) -> Any:
    """`count` dev prompts of different lengths (and any extra questions), left-padded, longest first
    (as the backend sorts them)."""
    messages = [p.messages for p in load_prompt_set("dev").prompts[:count]] + [
        [{"role": "user", "content": q}] for q in extra_questions
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


@pytest.mark.parametrize("repetition_penalty", [1.0, 1.2])
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
def test_real_model_greedy_tokens_match_generate(smollm2_dir: Path) -> None:
    """SmolLM2 on dev prompts: natural end-of-turn stops, the LIMA repetition penalty, the fast head."""
    model, tokenizer, _ = load_model(smollm2_dir, "cpu")
    encoded = _batch(tokenizer, 6, ["Say hello.", "What is the capital of France? Answer in one sentence."])
    decoding = DecodingParams(greedy=True, max_new_tokens=40, repetition_penalty=1.2)
    stop_ids = [tokenizer.eos_token_id]
    ours = _own_answers(model, encoded, decoding, stop_ids)
    assert ours == _library_answers(model, encoded, decoding, stop_ids, tokenizer.pad_token_id)
    assert any(finish == "stop" for _, finish in ours) and any(finish == "length" for _, finish in ours)


def test_batch_width_is_bounded_by_key_value_memory(tiny_model_dir: Path) -> None:
    generator = TransformersGenerator(tiny_model_dir, device="cpu")
    config = generator.model.config
    per_position = (
        config.num_hidden_layers * 2 * config.num_key_value_heads * (config.hidden_size // config.num_attention_heads) * 4
    )
    assert decode_loop.cache_bytes_per_position(generator.model) == per_position
    assert generator.max_batch_tokens == (2 << 30) // per_position
    assert TransformersGenerator(tiny_model_dir, device="cpu", max_batch_tokens=512).max_batch_tokens == 512
