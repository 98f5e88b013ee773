"""In-process generation with transformers: batched, length-sorted, left-padded.

Sorting by prompt length keeps padding (wasted compute) small inside each batch, and a token budget
(rows x (longest prompt + new tokens)) closes a batch early when its prompts are long, so one long
prompt does not pad dozens of short ones; left padding keeps every prompt's last token adjacent to the
first generated one, as decoder-only batching requires.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams, GenerationRequest, GenerationResult
from evalkit.generate import decode_loop
from evalkit.generate.chat import render, stop_token_ids
from evalkit.generate.gqa_attention import use_gqa_sdpa
from evalkit.generate.progress import StepCallback, step_counter


def load_model(path: Path, device: str | None = None, dtype_name: str | None = None) -> tuple[Any, Any, str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from evalkit.generate.precision import engine_dtype, torch_dtype

    hf_logging.disable_progress_bar()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch_dtype(dtype_name or engine_dtype(None, device))
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)  # type: ignore[arg-type]  # stubs: .to(str)
    except Exception as exc:  # transformers raises OSError/ValueError/RuntimeError/SafetensorError for bad dirs
        first_line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else exc.__class__.__name__
        raise EvalkitError(f"checkpoint {path}: cannot load model or tokenizer: {first_line}") from None
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        # Padding is masked out, so any id works; eos is the conventional choice when pad is absent.
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, device


KV_CACHE_BYTES = 2 << 30  # CPU: the key/value memory one batch of evalkit's loop may hold


class TransformersGenerator:
    backend = "transformers"
    on_step: StepCallback | None = None  # set by the progress display: called after every decoding step

    def __init__(
        self,
        path: Path,
        batch_size: int = 64,
        device: str | None = None,
        max_batch_tokens: int | None = None,
        dtype: str | None = None,
    ) -> None:
        self.model, self.tokenizer, self.device = load_model(path, device, dtype)
        self.batch_size = batch_size
        self.stop_ids = stop_token_ids(self.tokenizer, self.model.generation_config)
        # evalkit's own loop for full-attention models (drops ended rows, writes the cache in place);
        # transformers' generate for the rest. Same forward, same logits processors.
        self.own_loop = decode_loop.supports(self.model)
        if self.own_loop:  # its padded batches are where transformers' sdpa copies the grouped heads
            use_gqa_sdpa(self.model)
        self.max_batch_tokens = max_batch_tokens or self._default_batch_tokens()

    def _default_batch_tokens(self) -> int:
        """Most rows x (longest prompt + new tokens) per batch.

        With `model.generate` a batch's prefill is padded to its longest prompt, and on a CPU prefilling
        padding costs compute: keep batches narrow there (measured: one 50-row batch of the dev set, padded to
        its longest multi-turn prompt, ran at a third of the speed). evalkit's loop prefills prompts in groups
        of similar length, so its width costs only key/value memory: the budget is KV_CACHE_BYTES of it, and
        wider batches run the matmuls at a better rate (SmolLM2, 512 new tokens: the 50 dev prompts in one batch, not 21)."""
        if self.device.startswith("cuda"):
            return 131_072
        if not self.own_loop:
            return 16_384
        return max(1, KV_CACHE_BYTES // decode_loop.cache_bytes_per_position(self.model))

    def _generate_kwargs(self, decoding: DecodingParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": decoding.max_new_tokens,
            "repetition_penalty": decoding.repetition_penalty,
            "eos_token_id": self.stop_ids,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if decoding.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=decoding.temperature, top_p=decoding.top_p, top_k=None)
        return kwargs

    def generate(self, requests: Sequence[GenerationRequest], decoding: DecodingParams) -> Iterator[list[GenerationResult]]:
        import torch

        texts = [render(self.tokenizer, r.prompt.messages) for r in requests]
        lengths = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        order = sorted(range(len(requests)), key=lambda i: lengths[i], reverse=True)
        for start, batch in self._batches(order, lengths, decoding.max_new_tokens):
            encoded = self.tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False).to(
                self.device
            )
            torch.manual_seed(decoding.seed + start)
            began = time.perf_counter()
            answers = self._decode(encoded, decoding)
            elapsed = time.perf_counter() - began
            results = [
                GenerationResult(
                    prompt_hash=requests[index].prompt.hash,
                    sample=requests[index].sample,
                    text=self.tokenizer.decode(answer.tokens, skip_special_tokens=True).strip(),
                    prompt_tokens=lengths[index],
                    completion_tokens=len(answer.tokens) + (answer.finish == "stop"),
                    finish_reason=answer.finish,
                    latency_s=elapsed,
                )
                for answer, index in zip(answers, batch)
            ]
            yield results

    def _decode(self, encoded: Any, decoding: DecodingParams) -> list[decode_loop.Answer]:
        import torch

        if self.own_loop:
            return decode_loop.decode(
                self.model, encoded["input_ids"], encoded["attention_mask"], decoding, self.stop_ids, self.on_step
            )
        steps = {"stopping_criteria": step_counter(self.stop_ids, self.on_step)} if self.on_step else {}
        with torch.inference_mode():
            output = self.model.generate(**encoded, **self._generate_kwargs(decoding), **steps)
        return [decode_loop.Answer(*self._until_stop(row)) for row in output[:, encoded["input_ids"].shape[1] :].tolist()]

    def _batches(self, order: list[int], lengths: list[int], max_new_tokens: int) -> Iterator[tuple[int, list[int]]]:
        """Consecutive runs of the length-sorted (longest first) order, each within the row and token limits."""
        start = 0
        while start < len(order):
            padded = lengths[order[start]] + max_new_tokens  # the longest prompt of the batch sets its width
            rows = max(1, min(self.batch_size, self.max_batch_tokens // padded))
            yield start, order[start : start + rows]
            start += rows

    def _until_stop(self, row: list[int]) -> tuple[list[int], str]:
        for position, token in enumerate(row):
            if token in self.stop_ids:
                return row[:position], "stop"
        return row, "length"

    def close(self) -> None:
        self.model = None
