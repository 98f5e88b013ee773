"""Generation through any OpenAI-compatible server (OpenAI, `vllm serve`, `transformers serve`).

Requests run concurrently on an asyncio loop in a worker thread (bounded by a semaphore); finished
answers are handed to the caller in small batches through a queue, so they are stored while the rest
are still in flight. Retries with backoff (429/5xx/timeouts, Retry-After honoured) are the openai
client's own.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams, GenerationRequest, GenerationResult
from evalkit.core.redaction import redact_text, redact_url, remove_secrets

_DONE = object()


def describe_api_error(exc: Exception, base_url: str, api_key: str) -> str:
    """One line for a failed call; the API key and the URL's credentials never appear in it, even if a
    server echoes them."""
    import openai

    shown = redact_url(base_url)
    if isinstance(exc, openai.AuthenticationError):
        return f"server {shown} rejected the API key (401); check OPENAI_API_KEY"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot reach server {shown}; is it running and is --base-url right?"
    if isinstance(exc, openai.NotFoundError):
        return f"server {shown} does not serve that model (404); check --model-name"
    if isinstance(exc, openai.APIStatusError):
        message = redact_text(str(exc.message), (api_key,))
        return f"server {shown} answered {exc.status_code}: {message[:200]}"
    return f"request to {shown} failed: {exc.__class__.__name__}"


class OpenAIGenerator:
    backend = "openai"

    def __init__(
        self,
        base_url: str,
        model_name: str,
        *,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout_s: float = 600.0,
        max_retries: int = 5,
        send_repetition_penalty: bool = False,
    ) -> None:
        self.base_url = base_url
        self.model_name = model_name
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        # Only vLLM understands repetition_penalty; OpenAI rejects it and `transformers serve` answers 422.
        self.send_repetition_penalty = send_repetition_penalty
        self._preflight()

    def _preflight(self) -> None:
        """Fail in seconds, not after every request's retries, when the server is down or the key is wrong."""
        import openai

        client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=15.0, max_retries=1)
        try:
            client.models.list()
        except openai.NotFoundError:
            return  # some compatible servers have no /models; the first real request will tell
        except openai.OpenAIError as exc:
            raise EvalkitError(describe_api_error(exc, self.base_url, self.api_key)) from None
        finally:
            client.close()

    def effective(self, decoding: DecodingParams) -> DecodingParams:
        """The decoding actually applied, which is what gets stored and keyed."""
        return decoding if self.send_repetition_penalty else replace(decoding, repetition_penalty=1.0)

    def _body(self, request: GenerationRequest, decoding: DecodingParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_name,
            "messages": list(request.prompt.messages),
            "max_tokens": decoding.max_new_tokens,
            "seed": decoding.seed + request.sample,
        }
        if decoding.greedy:
            body["temperature"] = 0.0
        else:
            body.update(temperature=decoding.temperature, top_p=decoding.top_p)
        if self.send_repetition_penalty:
            body["extra_body"] = {"repetition_penalty": decoding.repetition_penalty}
        return body

    async def _run(
        self, requests: Sequence[GenerationRequest], decoding: DecodingParams, out: queue.Queue, stop: threading.Event
    ) -> None:
        import openai

        client = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=self.max_retries
        )
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(request: GenerationRequest) -> None:
            async with semaphore:
                if stop.is_set():
                    return
                began = time.perf_counter()
                response = await client.chat.completions.create(**self._body(request, decoding))
                choice = response.choices[0]
                usage = response.usage
                out.put(
                    GenerationResult(
                        prompt_hash=request.prompt.hash,
                        sample=request.sample,
                        # a server that echoes the request's headers must not put the key into the store
                        text=remove_secrets((choice.message.content or "").strip(), (self.api_key,)),
                        prompt_tokens=getattr(usage, "prompt_tokens", None),
                        completion_tokens=getattr(usage, "completion_tokens", None),
                        finish_reason=choice.finish_reason,
                        latency_s=time.perf_counter() - began,
                    )
                )

        try:
            tasks = [asyncio.create_task(one(r)) for r in requests]
            for finished in asyncio.as_completed(tasks):
                try:
                    await finished
                except Exception as exc:
                    stop.set()
                    for task in tasks:
                        task.cancel()
                    out.put(exc)
                    return
        finally:
            await client.close()
            out.put(_DONE)

    def generate(self, requests: Sequence[GenerationRequest], decoding: DecodingParams) -> Iterator[list[GenerationResult]]:
        decoding = self.effective(decoding)
        results: queue.Queue = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(target=lambda: asyncio.run(self._run(requests, decoding, results, stop)), daemon=True)
        worker.start()
        batch_size = max(1, self.concurrency)
        try:
            finished = False
            while not finished:
                batch: list[GenerationResult] = []
                item = results.get()
                while True:
                    if item is _DONE:
                        finished = True
                        break
                    if isinstance(item, Exception):
                        raise EvalkitError(describe_api_error(item, self.base_url, self.api_key)) from None
                    batch.append(item)
                    if len(batch) >= batch_size:
                        break
                    try:
                        item = results.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    yield batch
        finally:
            stop.set()

    def close(self) -> None:
        return None
