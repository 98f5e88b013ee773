"""The one interface every generation backend implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from evalkit.core.records import DecodingParams, GenerationRequest, GenerationResult


class Generator(Protocol):
    """Yields results in small batches as they finish, so the caller can store each batch at once."""

    backend: str

    def generate(self, requests: Sequence[GenerationRequest], decoding: DecodingParams) -> Iterator[list[GenerationResult]]: ...

    def close(self) -> None: ...
