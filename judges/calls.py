"""Judge calls through the `openai` async client against any OpenAI-compatible endpoint.

Backoff and Retry-After on 429/5xx/timeouts are the client's own (`max_retries`); what is left after
them is sorted here: a rejected key, an unreachable server or an unknown model stop the job with one
line (`EvalkitError`, exit 2), while a request that still fails after its retries is a per-item
`TransportError`: counted, not stored, asked again on the next run.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.redaction import redact_text, redact_url
from evalkit.core.settings import resolve
from evalkit.judges.base import Message, Reply

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


class TransportError(Exception):
    """A request that failed after the client's retries; the item is left for the next run."""


class EndpointUnreachable(EvalkitError):
    """No connection to the judge server: down, a wrong URL, or gone mid-job. Bad input (exit 2) when the
    job has stored nothing; evalkit.judges.job_failures.lost_mid_job makes it exit 1 once work is stored."""

    def __init__(self, url: str) -> None:
        super().__init__(f"cannot reach judge endpoint {url}; is the server running and --judge-base-url right?")
        self.url = url


class PromptTooLong(Exception):
    """The server refused the prompt as longer than the judge's context (vLLM: 400 "maximum context
    length"; OpenAI: context_length_exceeded). Asking again cannot help: the item is stored invalid."""


# How servers word a prompt that does not fit: vLLM ("This model's maximum context length is ...",
# "max_tokens=... cannot be greater than max_model_len=..."), OpenAI (code context_length_exceeded).
_TOO_LONG = re.compile(r"context[ _]length|max_model_len|prompt is too long|too many (?:input )?tokens", re.IGNORECASE)


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None  # None: the openai client's default (OpenAI)
    api_key: str
    timeout_s: float = 120.0
    http_retries: int = 5

    @property
    def shown_url(self) -> str:
        """The endpoint as messages show it: credentials in the URL are hidden."""
        return redact_url(self.base_url or OPENAI_DEFAULT_URL)


def resolve_endpoint(base_url: str | None = None, *, timeout_s: float = 120.0, http_retries: int = 5) -> Endpoint:
    """Flag > EVALKIT_JUDGE_BASE_URL > OPENAI_BASE_URL > config file > OpenAI; the key only from OPENAI_API_KEY."""
    url = resolve("judge_base_url", base_url, None, env=("OPENAI_BASE_URL",))
    key = os.environ.get("OPENAI_API_KEY")
    if not key:
        if url is None:
            raise EvalkitError(
                "OPENAI_API_KEY is not set; export it, or point --judge-base-url at a local OpenAI-compatible server"
            )
        key = "EMPTY"  # local servers (vLLM, transformers serve) accept any key
    return Endpoint(base_url=str(url) if url else None, api_key=key, timeout_s=timeout_s, http_retries=http_retries)


def endpoint_configured() -> bool:
    """Whether a judge endpoint is set up, which decides the default judge (never the offline one then)."""
    return bool(resolve("judge_base_url", None, None, env=("OPENAI_BASE_URL",)) or os.environ.get("OPENAI_API_KEY"))


class ChatCaller:
    """One shared `AsyncOpenAI` client (its connection pool) for all of a job's requests."""

    def __init__(self, endpoint: Endpoint, model: str) -> None:
        import openai

        self.endpoint = endpoint
        self.model = model
        self._openai = openai
        self.client = openai.AsyncOpenAI(
            base_url=endpoint.base_url, api_key=endpoint.api_key, timeout=endpoint.timeout_s, max_retries=endpoint.http_retries
        )

    def _fatal_or_transport(self, exc: Exception) -> Exception:
        """The exception to raise for a failed call: EvalkitError stops the job, PromptTooLong makes the
        item invalid, TransportError leaves it for the next run."""
        openai, url = self._openai, self.endpoint.shown_url
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return EvalkitError(f"judge endpoint {url} rejected the API key ({exc.status_code}); check OPENAI_API_KEY")
        if isinstance(exc, openai.APITimeoutError):
            return TransportError(f"timed out after {self.endpoint.timeout_s:g}s and {self.endpoint.http_retries} retries")
        if isinstance(exc, openai.APIConnectionError):
            return EndpointUnreachable(url)
        if isinstance(exc, openai.NotFoundError):
            return EvalkitError(
                f"judge endpoint {url} answered 404 for model {self.model!r}; check --judge-model and --judge-base-url"
            )
        if isinstance(exc, openai.APIStatusError):
            message = redact_text(str(getattr(exc, "message", "") or exc), (self.endpoint.api_key,))
            if exc.status_code == 400 and (_TOO_LONG.search(message) or getattr(exc, "code", None) == "context_length_exceeded"):
                return PromptTooLong(message[:200])
            return TransportError(f"HTTP {exc.status_code}: {message[:200]}")
        return TransportError(f"malformed response ({exc.__class__.__name__})")

    async def complete(self, messages: Sequence[Message], options: dict[str, Any]) -> Reply:
        began = time.perf_counter()
        try:
            response = await self.client.chat.completions.create(model=self.model, messages=list(messages), **options)
        except self._openai.OpenAIError as exc:
            raise self._fatal_or_transport(exc) from None
        except ValueError as exc:  # an unparseable body on a 200 (e.g. a proxy's HTML page)
            raise TransportError(f"malformed response ({exc.__class__.__name__})") from None
        choices = getattr(response, "choices", None)
        if not choices or getattr(choices[0], "message", None) is None:
            raise TransportError("malformed response (no choices)")
        choice = choices[0]
        top: tuple[tuple[str, float], ...] | None = None
        content = getattr(getattr(choice, "logprobs", None), "content", None)
        if content:
            top = tuple((alt.token, float(alt.logprob)) for alt in (content[0].top_logprobs or []))
        usage = getattr(response, "usage", None)
        return Reply(
            # A server or proxy may echo the request's headers: the key never reaches parsing or the store.
            text=redact_text(choice.message.content or "", (self.endpoint.api_key,)),
            top_logprobs=top or None,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            latency_s=time.perf_counter() - began,
            finish_reason=getattr(choice, "finish_reason", None),
        )

    async def close(self) -> None:
        await self.client.close()
