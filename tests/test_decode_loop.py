"""evalkit's decoding loop against transformers' `model.generate`: the same tokens for greedy decoding
(with and without a repetition penalty, prompts prefilled in several groups, a shared prefix prefilled
once, attention split into row groups, ended rows dropped mid-batch), seeded sampling, and the fallback
to `generate` for models it does not handle. Token-for-token comparisons with `generate` run the loop's
linear layers on MKL, as `generate` does; oneDNN's packed matmuls are checked against that."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from evalkit.data import load_prompt_set
from evalkit.generate import decode_loop, packed_linear, row_group_attention
from evalkit.generate.chat import render
from evalkit.generate.transformers_backend import TransformersGenerator, load_model
from evalkit.records import DecodingParams, GenerationRequest


@pytest.fixture(autouse=True)
def _mkl_linears(monkeypatch: pytest.MonkeyPatch) -> None:
    """`generate` multiplies with MKL; so does the loop here, unless a test turns oneDNN back on."""
    monkeypatch.setattr(packed_linear, "ENABLED", False)


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


class _Spies:
    """Records what the loop's shortcuts did: the shared prefix lengths and the attention row groups."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.prefixes: list[tuple[int, list[bool]]] = []
        self.groups: list[int] = []
        shared_prefix, attention = decode_loop._shared_prefix, row_group_attention.attention

        def spy_prefix(*args: Any) -> tuple[int, list[bool]]:
            self.prefixes.append(shared_prefix(*args))
            return self.prefixes[-1]

        def spy_attention(*args: Any, row_groups: Any = None, **kwargs: Any) -> Any:
            if args[1].shape[2] == 1 or kwargs.get("ragged") is not None:  # a decoding step
                self.groups.append(len(row_groups or []))
            return attention(*args, row_groups=row_groups, **kwargs)

        monkeypatch.setattr(decode_loop, "_shared_prefix", spy_prefix)
        monkeypatch.setitem(row_group_attention.AttentionInterface._global_mapping, row_group_attention.NAME, spy_attention)


@pytest.mark.parametrize("repetition_penalty", [1.0, 1.2])
def test_shared_prefix_and_row_group_attention_give_generates_tokens(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, repetition_penalty: float
) -> None:
    model, tokenizer = _chaotic_tiny_model(tiny_model_dir)
    system = "You are a careful assistant. Answer in plain words, briefly, and say when you are not sure."
    encoded = _batch(tokenizer, 10, ["Hi."], system=system)
    stop = _scattered_stop_token(model, encoded, tokenizer.pad_token_id)
    monkeypatch.setattr(decode_loop, "PREFILL_TOKENS", 160)  # groups whose rows need different shares of the prefix
    monkeypatch.setattr(decode_loop, "COMPACT_FRACTION", 12)  # row groups re-planned as rows leave
    monkeypatch.setattr(row_group_attention, "MIN_SAVED_COLUMNS", 4)
    spies = _Spies(monkeypatch)
    decoding = DecodingParams(greedy=True, max_new_tokens=24, repetition_penalty=repetition_penalty)
    ours = _own_answers(model, encoded, decoding, [stop])
    assert ours == _library_answers(model, encoded, decoding, [stop], tokenizer.pad_token_id)
    system_tokens = len(tokenizer(system, add_special_tokens=False)["input_ids"])
    assert spies.prefixes[0][0] > system_tokens and all(spies.prefixes[0][1])  # the system turn and the next turn's opening
    assert max(spies.groups) >= 3 and len(set(spies.groups)) >= 2  # split, and re-planned after rows left
    lengths = encoded["attention_mask"].sum(-1).tolist()
    assert max(lengths) - min(lengths) > spies.prefixes[0][0]  # some rows computed part of the prefix themselves


def test_row_groups_follow_the_padding() -> None:
    plan, step = row_group_attention.plan, row_group_attention.MIN_SAVED_COLUMNS
    assert plan([]) == []
    assert plan([0, 0, 0]) == [(0, 3, 0)]
    assert plan([0, 5, step - 1, step, step + 2, 3 * step]) == [(0, 3, 0), (3, 5, step), (5, 6, 3 * step)]
    assert plan([step, 0, 2 * step]) == [(0, 3, 0)]  # unsorted rows: one group from the least padding


def test_row_group_attention_equals_sdpa_over_the_whole_batch() -> None:
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    generator = torch.Generator().manual_seed(0)
    rows, heads, kv_heads, width, size = 7, 6, 2, 90, 16
    padding = [0, 3, 20, 41, 41, 60, 88]
    query = torch.randn(rows, heads, 1, size, generator=generator)
    key, value = (torch.randn(rows, kv_heads, width, size, generator=generator) for _ in range(2))
    mask = (torch.arange(width)[None, :] >= torch.tensor(padding)[:, None])[:, None, None, :]
    module = torch.nn.Module()
    module.num_key_value_groups = heads // kv_heads  # type: ignore[assignment]
    whole, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=size**-0.5)
    groups = row_group_attention.plan(padding)
    assert len(groups) == 3
    split, _ = row_group_attention.attention(module, query, key, value, mask, scaling=size**-0.5, row_groups=groups)
    torch.testing.assert_close(split, whole, rtol=1e-6, atol=1e-6)
    garbage = key.clone()
    garbage[1:, :, :3] = float("nan")  # columns every group past the first skips: never read
    split_nan, _ = row_group_attention.attention(module, query, garbage, value, mask, scaling=size**-0.5, row_groups=groups)
    assert not split_nan[3:].isnan().any()


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
    system turn prefilled once, attention split by padding (all at their default settings)."""
    model, tokenizer, _ = load_model(smollm2_dir, "cpu")
    encoded = _batch(tokenizer, 6, ["Say hello.", "What is the capital of France? Answer in one sentence."])
    decoding = DecodingParams(greedy=True, max_new_tokens=40, repetition_penalty=1.2)
    stop_ids = [tokenizer.eos_token_id]
    spies = _Spies(monkeypatch)
    ours = _own_answers(model, encoded, decoding, stop_ids)
    assert ours == _library_answers(model, encoded, decoding, stop_ids, tokenizer.pad_token_id)
    assert any(finish == "stop" for _, finish in ours) and any(finish == "length" for _, finish in ours)
    assert spies.prefixes[0][0] >= 20 and max(spies.groups) >= 2  # SmolLM's system turn; prompts of varied lengths


@pytest.mark.slow
def test_onednn_matmuls_give_the_mkl_loops_answers(smollm2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """oneDNN sums in another order than MKL: the logits agree to ~1e-6 relative, so greedy answers may
    part only at a near-tie. On the real model: the same first token in every row, and the same whole
    answers in nearly all (all of them on the machines this was written on)."""
    import torch

    model, tokenizer, _ = load_model(smollm2_dir, "cpu")
    encoded = _batch(tokenizer, 8)
    decoding = DecodingParams(greedy=True, max_new_tokens=32, repetition_penalty=1.2)
    stop_ids = [tokenizer.eos_token_id]
    mkl = _own_answers(model, encoded, decoding, stop_ids)
    monkeypatch.setattr(packed_linear, "ENABLED", True)
    assert packed_linear.usable(model)
    onednn = _own_answers(model, encoded, decoding, stop_ids)
    assert [tokens[:1] for tokens, _ in onednn] == [tokens[:1] for tokens, _ in mkl]
    assert sum(ours == theirs for ours, theirs in zip(onednn, mkl)) >= len(mkl) - 1
    hidden = torch.randn(3, 1, model.config.hidden_size)
    projection = model.model.layers[0].mlp.up_proj
    with torch.inference_mode():
        plain = projection(hidden)
        with packed_linear.enabled(model) as active:
            assert active
            torch.testing.assert_close(projection(hidden), plain, rtol=1e-5, atol=1e-5)
        assert "forward" not in projection.__dict__  # MKL again outside the block
        assert torch.equal(projection(hidden), plain)


def test_packed_weights_follow_in_place_updates(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(packed_linear, "ENABLED", True)
    model, _, _ = load_model(tiny_model_dir, "cpu")
    projection = model.model.layers[0].self_attn.q_proj
    hidden = torch.randn(4, 1, projection.in_features)
    with torch.no_grad(), packed_linear.enabled(model):
        before = projection(hidden)
        projection.weight.mul_(2)  # what an optimizer step does: the same tensor, a new version
        torch.testing.assert_close(projection(hidden), 2 * before, rtol=1e-5, atol=1e-5)
    monkeypatch.setattr(packed_linear, "MAX_PACKED_BYTES", 0)
    assert not packed_linear.usable(model)


def test_batch_width_is_bounded_by_key_value_memory(tiny_model_dir: Path) -> None:
    generator = TransformersGenerator(tiny_model_dir, device="cpu")
    config = generator.model.config
    per_position = (
        config.num_hidden_layers * 2 * config.num_key_value_heads * (config.hidden_size // config.num_attention_heads) * 4
    )
    assert decode_loop.cache_bytes_per_position(generator.model) == per_position
    assert generator.max_batch_tokens == (2 << 30) // per_position
    assert TransformersGenerator(tiny_model_dir, device="cpu", max_batch_tokens=512).max_batch_tokens == 512


class _OracleLookup:
    """Drafts from the known answers, wrong from a chosen point on: exercises every acceptance length
    (none, part, all) in every row, which real prompt lookup on a random model rarely does."""

    answers: dict[int, list[int]] = {}
    vocabulary = 0

    def __init__(self, sequences: dict[int, Sequence[int]]) -> None:
        self.produced = {row: 0 for row in sequences}
        self.calls = 0

    def extend(self, row: int, tokens: Sequence[int]) -> None:
        self.produced[row] += len(tokens)

    def draft(self, row: int, length: int) -> list[int]:
        self.calls += 1
        truth = self.answers[row][self.produced[row] :][:length]  # what follows the token fed before the draft
        wrong_from = (self.calls * 7 + row) % (length + 2)  # some drafts all right, some wrong at once
        return [token if j < wrong_from else (token + 1) % self.vocabulary for j, token in enumerate(truth)]


class _AlwaysDraft:
    max_draft = 5

    def choose(self, available: dict[int, int]) -> dict[int, int]:
        return dict(available)

    def observe(self, *args: Any) -> None:
        pass


def test_draft_steps_give_the_one_token_loops_answers(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps where rows feed different numbers of draft tokens (ragged), rejected drafts overwritten, rows
    ending mid-draft at a stop token or the length limit, rows dropped: the same tokens as one token per
    step. In float64, so that the different matmul shapes cannot flip a near-tie of the chaotic model."""
    import torch

    from evalkit.generate import prompt_lookup

    model, tokenizer = _chaotic_tiny_model(tiny_model_dir)
    model = model.double()
    encoded = _batch(tokenizer, 10)
    stop = _scattered_stop_token(model, encoded, tokenizer.pad_token_id)
    monkeypatch.setattr(decode_loop, "COMPACT_FRACTION", 12)
    monkeypatch.setattr(row_group_attention, "MIN_SAVED_COLUMNS", 4)  # several row groups, split further by feed
    decoding = DecodingParams(greedy=True, max_new_tokens=30, repetition_penalty=1.0)
    monkeypatch.setattr(decode_loop, "SPECULATE", False)
    one_token = _own_answers(model, encoded, decoding, [stop])
    assert one_token == _library_answers(model, encoded, decoding, [stop], tokenizer.pad_token_id)
    # past an answer's end: its stop token, or (at the length limit) tokens the limit must cut off
    _OracleLookup.answers = {
        row: tokens + ([stop] if end == "stop" else [1, 2, 3]) for row, (tokens, end) in enumerate(one_token)
    }
    _OracleLookup.vocabulary = model.config.vocab_size
    monkeypatch.setattr(decode_loop, "SPECULATE", True)
    monkeypatch.setattr(prompt_lookup, "PromptLookup", _OracleLookup)
    monkeypatch.setattr(prompt_lookup, "DraftPlanner", _AlwaysDraft)
    steps: list[int] = []
    with torch.inference_mode():
        answers = decode_loop.decode(
            model, encoded["input_ids"], encoded["attention_mask"], decoding, [stop], lambda tokens, _: steps.append(tokens)
        )
    assert [(a.tokens, a.finish) for a in answers] == one_token
    assert {finish for _, finish in one_token} == {"stop", "length"}
    assert len(steps) < decoding.max_new_tokens * 0.7 and max(steps) > len(one_token)  # several tokens a step


def test_prompt_lookup_proposes_what_followed_the_last_repeat() -> None:
    from evalkit.generate.prompt_lookup import PromptLookup

    lookup = PromptLookup({0: [5, 6, 7, 8, 9, 1, 2, 6, 7], 1: [1, 2, 3]})
    assert lookup.draft(0, 3) == [8, 9, 1]  # "6 7" was followed by 8 9 1 (no 3-gram "2 6 7" before)
    assert lookup.draft(1, 4) == []  # nothing repeats yet
    lookup.extend(1, [4, 1, 2, 3])
    assert lookup.draft(1, 6) == [4, 1, 2, 3, 4, 1]  # "1 2 3" again: a loop keeps looping past the end
    lookup.extend(0, [8, 2, 6, 7])
    assert lookup.draft(0, 2) == [8, 2]  # the 3-gram "2 6 7" wins over the older 2-gram match


def test_draft_planner_feeds_drafts_only_where_they_pay() -> None:
    from evalkit.generate.prompt_lookup import BASE_REFRESH_STEPS, DraftPlanner

    planner = DraftPlanner(max_draft=4)
    assert planner.choose({0: 4}) == {}  # no step measured yet
    planner.observe(0, 0.1, {})  # a one-token step: 0.1 s
    assert planner.choose({0: 4, 1: 0}) == {0: 4}  # the cost of a fed token is unknown: optimistic
    planner.observe(4, 0.14, {0: (4, 0)})  # 4 drafted tokens cost 0.04 s; row 0's draft was rejected at once
    assert planner.token_seconds == pytest.approx(0.01)
    # row 0 now accepts 1/3 (prior 1/2, one rejection): its first draft token is worth 1/3 of a token for
    # 0.01 s, more than the 2 tokens per 0.1 s a step gives (0.2 per 0.01 s); its second, 1/9, is not
    assert planner.choose({0: 4, 1: 0}) == {0: 1}
    for _ in range(BASE_REFRESH_STEPS):
        planner.observe(1, 0.11, {0: (1, 1)})
    assert planner.choose({0: 4}) == {}  # time to re-measure a step without drafts


def test_ragged_attention_equals_each_rows_own_attention() -> None:
    """Rows with different padding, lengths and numbers of fed tokens, on grouped-query heads: each fed
    token attends to its row's columns up to its own, as plain softmax attention computes it row by row."""
    import torch

    from evalkit.generate.ragged import RaggedStep

    generator = torch.Generator().manual_seed(0)
    heads, kv_heads, size, width = 6, 2, 8, 40
    starts, feed_columns, fed = [0, 2, 9, 30], [25, 20, 31, 36], [1, 4, 4, 2]
    key, value = (torch.randn(4, kv_heads, width, size, generator=generator) for _ in range(2))
    query = torch.randn(1, heads, sum(fed), size, generator=generator)
    groups = [(0, 2, 0), (2, 4, 9)]  # padding groups; runs split them further where the feed changes
    step = RaggedStep.plan(torch.tensor(starts), torch.tensor(feed_columns), fed, groups)
    assert [(run.first, run.end, run.width) for run in step.runs] == [(0, 1, 1), (1, 2, 4), (2, 3, 4), (3, 4, 2)]
    assert step.length == 38 and step.columns.tolist() == [25, 20, 21, 22, 23, 31, 32, 33, 34, 36, 37]
    module = torch.nn.Module()
    module.num_key_value_groups = heads // kv_heads  # type: ignore[assignment]
    output, _ = row_group_attention.attention(
        module,
        query,
        key[:, :, : step.length],
        value[:, :, : step.length],
        None,
        scaling=size**-0.5,
        row_groups=groups,
        ragged=step,
    )
    token = 0
    for row in range(4):
        for index in range(fed[row]):
            columns = slice(starts[row], feed_columns[row] + index + 1)
            for head in range(heads):
                keys, values = key[row, head // 3, columns], value[row, head // 3, columns]
                weights = torch.softmax(keys @ query[0, head, token] * size**-0.5, dim=0)
                torch.testing.assert_close(output[0, token, head], weights @ values, rtol=1e-5, atol=1e-5)
            token += 1


@pytest.mark.slow
def test_real_model_drafts_give_the_same_answers(smollm2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SmolLM2, greedy without a repetition penalty (where prompt lookup drafts): the answers of one token
    per step, and some steps yield several tokens of a row."""
    model, tokenizer, _ = load_model(smollm2_dir, "cpu")
    encoded = _batch(tokenizer, 3, ["List the days of the week, one per line.", "Count from one to twenty in words."])
    decoding = DecodingParams(greedy=True, max_new_tokens=64, repetition_penalty=1.0)
    stop_ids = [tokenizer.eos_token_id]
    monkeypatch.setattr(decode_loop, "SPECULATE", False)
    one_token = _own_answers(model, encoded, decoding, stop_ids)
    monkeypatch.setattr(decode_loop, "SPECULATE", True)
    steps: list[int] = []
    drafted = decode_loop.decode(
        model, encoded["input_ids"], encoded["attention_mask"], decoding, stop_ids, lambda tokens, _: steps.append(tokens)
    )
    assert [(a.tokens, a.finish) for a in drafted] == one_token
    assert len(steps) < max(len(tokens) for tokens, _ in one_token) + 1  # drafts saved steps on the longest answer
