"""vLLM backends: in-process `vllm.LLM`, and `vllm serve` as a subprocess driven over the OpenAI API.

vLLM needs a CUDA GPU; it is the optional `vllm` extra and is imported only here, only when chosen.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.generate.openai_backend import OpenAIGenerator
from evalkit.generate.server import ManagedServer, free_port, vllm_serve_command
from evalkit.records import DecodingParams, GenerationRequest, GenerationResult

NOT_INSTALLED = "vllm is not installed: pip install 'evalkit[vllm]' (needs a CUDA GPU); on CPU use --backend transformers"


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise EvalkitError(NOT_INSTALLED) from None
    return vllm


class VLLMGenerator:
    """vLLM's own scheduler batches continuously, so all requests go in at once, in chunks for progress."""

    backend = "vllm"

    def __init__(self, path: Path, chunk_size: int = 256, **engine_options: Any) -> None:
        self.vllm = _import_vllm()
        self.llm = self.vllm.LLM(model=str(path), dtype="bfloat16", **engine_options)
        self.tokenizer = self.llm.get_tokenizer()
        self.chunk_size = chunk_size

    def _sampling(self, decoding: DecodingParams, sample: int) -> Any:
        from evalkit.generate.chat import stop_token_ids

        common = dict(
            max_tokens=decoding.max_new_tokens,
            repetition_penalty=decoding.repetition_penalty,
            stop_token_ids=stop_token_ids(self.tokenizer),
        )
        if decoding.greedy:
            return self.vllm.SamplingParams(temperature=0.0, **common)
        return self.vllm.SamplingParams(
            temperature=decoding.temperature, top_p=decoding.top_p, seed=decoding.seed + sample, **common
        )

    def generate(self, requests: Sequence[GenerationRequest], decoding: DecodingParams) -> Iterator[list[GenerationResult]]:
        for start in range(0, len(requests), self.chunk_size):
            chunk = requests[start : start + self.chunk_size]
            outputs = self.llm.chat(
                [list(r.prompt.messages) for r in chunk],
                [self._sampling(decoding, r.sample) for r in chunk],
                use_tqdm=False,
            )
            yield [
                GenerationResult(
                    prompt_hash=request.prompt.hash,
                    sample=request.sample,
                    text=output.outputs[0].text.strip(),
                    prompt_tokens=len(output.prompt_token_ids or []),
                    completion_tokens=len(output.outputs[0].token_ids),
                    finish_reason=output.outputs[0].finish_reason,
                )
                for request, output in zip(chunk, outputs)
            ]

    def close(self) -> None:
        self.llm = None


class VLLMServerGenerator:
    """`vllm serve` on a free loopback port, used through the OpenAI-compatible path."""

    backend = "vllm-server"

    def __init__(self, path: Path, served_name: str, concurrency: int = 64, extra_args: Sequence[str] = ()) -> None:
        if shutil.which("vllm") is None:
            raise EvalkitError(NOT_INSTALLED)
        port = free_port()
        self.server = ManagedServer(vllm_serve_command(str(path), served_name, port, extra=extra_args), port)
        self.client = OpenAIGenerator(self.server.base_url, served_name, concurrency=concurrency, send_repetition_penalty=True)

    def effective(self, decoding: DecodingParams) -> DecodingParams:
        return self.client.effective(decoding)

    def generate(self, requests: Sequence[GenerationRequest], decoding: DecodingParams) -> Iterator[list[GenerationResult]]:
        return self.client.generate(requests, decoding)

    def close(self) -> None:
        self.server.close()
