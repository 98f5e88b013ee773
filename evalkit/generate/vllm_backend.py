"""vLLM backends: the in-process engine, and `vllm serve` as a subprocess driven over the OpenAI API.

vLLM needs a CUDA GPU; it is the optional `vllm` extra and is imported only here, only when chosen.
Both hand each answer to the store as soon as its request finishes: the in-process engine is stepped
(`LLMEngine.step`) rather than asked for a whole chunk at once (`LLM.chat` returns only when every
request of its call is done), and the server path stores what each finished HTTP request returned.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.generate.chat import render, stop_token_ids
from evalkit.generate.openai_backend import OpenAIGenerator
from evalkit.generate.server import ManagedServer, free_port, vllm_serve_command
from evalkit.generate.vllm_options import VLLMOptions, engine_kwargs, serve_args
from evalkit.records import DecodingParams, GenerationRequest, GenerationResult

NOT_INSTALLED = "vllm is not installed: pip install 'evalkit[vllm]' (needs a CUDA GPU); on CPU use --backend transformers"


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise EvalkitError(NOT_INSTALLED) from None
    return vllm


def check_engine_keys(engine_args_class: Any, kwargs: dict[str, Any]) -> None:
    """A misspelt --vllm-arg fails here, in one line, before the weights load."""
    from dataclasses import fields

    known = {f.name for f in fields(engine_args_class)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise EvalkitError(f"--vllm-arg {unknown[0]}: not an option of this vLLM's engine (see `vllm serve --help`)")


class VLLMGenerator:
    """vLLM's scheduler batches continuously: every request goes in at once, and each step's finished
    requests are yielded at once, so one long answer never holds the short ones back from the store."""

    backend = "vllm"

    def __init__(self, path: Path, options: VLLMOptions, *, vllm_module: Any = None) -> None:
        from transformers import AutoTokenizer

        self.vllm = vllm_module or _import_vllm()  # tests pass a stand-in: vLLM needs a CUDA GPU
        kwargs = engine_kwargs(options)
        check_engine_keys(self.vllm.EngineArgs, {"model": str(path), **kwargs})
        # Prompts are rendered and tokenised here, as the transformers backend does, and handed over as
        # token ids: the same template, no second BOS, whatever vLLM version renders chats.
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.stop_ids = stop_token_ids(self.tokenizer)
        self.engine = self.vllm.LLMEngine.from_engine_args(self.vllm.EngineArgs(model=str(path), **kwargs))

    def _sampling(self, decoding: DecodingParams, sample: int) -> Any:
        common = {
            "max_tokens": decoding.max_new_tokens,
            "repetition_penalty": decoding.repetition_penalty,
            "stop_token_ids": self.stop_ids,
        }
        if decoding.greedy:
            return self.vllm.SamplingParams(temperature=0.0, **common)
        return self.vllm.SamplingParams(
            temperature=decoding.temperature, top_p=decoding.top_p, seed=decoding.seed + sample, **common
        )

    def generate(self, requests: Sequence[GenerationRequest], decoding: DecodingParams) -> Iterator[list[GenerationResult]]:
        began = time.perf_counter()
        pending: dict[str, GenerationRequest] = {}
        for index, request in enumerate(requests):
            ids = self.tokenizer(render(self.tokenizer, request.prompt.messages), add_special_tokens=False)["input_ids"]
            self.engine.add_request(str(index), {"prompt_token_ids": ids}, self._sampling(decoding, request.sample))
            pending[str(index)] = request
        try:
            while pending:
                finished = [output for output in self.engine.step() if output.finished]
                if finished:
                    yield [
                        self._result(pending.pop(output.request_id), output, time.perf_counter() - began) for output in finished
                    ]
                elif not self.engine.has_unfinished_requests():
                    raise EvalkitError(f"vLLM stopped with {len(pending)} requests unanswered")
        finally:
            if pending:  # the caller stopped early (interrupt, store error): free the engine's slots
                self.engine.abort_request(list(pending))

    @staticmethod
    def _result(request: GenerationRequest, output: Any, elapsed: float) -> GenerationResult:
        completion = output.outputs[0]
        return GenerationResult(
            prompt_hash=request.prompt.hash,
            sample=request.sample,
            text=completion.text.strip(),
            prompt_tokens=len(output.prompt_token_ids or []),
            completion_tokens=len(completion.token_ids),
            finish_reason=completion.finish_reason,
            latency_s=elapsed,
        )

    def close(self) -> None:
        self.engine = None


class VLLMServerGenerator:
    """`vllm serve` on a free loopback port, used through the OpenAI-compatible path (whose answers are
    stored as their requests finish)."""

    backend = "vllm-server"

    def __init__(self, path: Path, served_name: str, options: VLLMOptions, concurrency: int = 64) -> None:
        if shutil.which("vllm") is None:
            raise EvalkitError(NOT_INSTALLED)
        port = free_port()
        self.server = ManagedServer(vllm_serve_command(str(path), served_name, port, extra=serve_args(options)), port)
        try:
            self.client = OpenAIGenerator(
                self.server.base_url, served_name, concurrency=concurrency, send_repetition_penalty=True
            )
        except BaseException:
            self.server.close()
            raise

    def effective(self, decoding: DecodingParams) -> DecodingParams:
        return self.client.effective(decoding)

    def generate(self, requests: Sequence[GenerationRequest], decoding: DecodingParams) -> Iterator[list[GenerationResult]]:
        return self.client.generate(requests, decoding)

    def close(self) -> None:
        self.server.close()
