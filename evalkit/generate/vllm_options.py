"""vLLM engine options (parallelism, memory, context, free KEY=VALUE) shared by both vLLM backends.

They are parsed and checked here, before any model is loaded or server started, and rendered two ways:
keyword arguments for the in-process engine (`vllm.EngineArgs`) and flags for `vllm serve`. They do
not change an answer's identity, so they are not part of the decoding cache key (an engine that runs out
of memory or context fails, it does not answer differently). The precision does change answers: it is
`--dtype`, shared with the transformers backend and stored with every answer (`precision.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from evalkit.core.errors import EvalkitError

# Set by evalkit itself or by a dedicated flag: a --vllm-arg for them would be silently overridden.
RESERVED = {
    "model": "the checkpoint is --checkpoint",
    "host": "the server binds 127.0.0.1",
    "port": "evalkit picks a free port",
    "served_model_name": "evalkit names the model after the checkpoint",
    "tensor_parallel_size": "use --tensor-parallel-size",
    "pipeline_parallel_size": "use --pipeline-parallel-size",
    "gpu_memory_utilization": "use --gpu-memory-utilization",
    "max_model_len": "use --max-model-len",
    "dtype": "use --dtype",
}
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class VLLMOptions:
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    gpu_memory_utilization: float | None = None  # None: vLLM's default (0.9)
    max_model_len: int | None = None  # None: the model's own context length
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple)  # --vllm-arg, keys with underscores

    @property
    def gpus(self) -> int:
        """GPUs one engine occupies: what a Ray task must reserve for it."""
        return self.tensor_parallel_size * self.pipeline_parallel_size

    def is_default(self) -> bool:
        return self == VLLMOptions()


def _positive_int(flag: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise EvalkitError(f"{flag} must be a whole number, got {text!r}") from None
    if value < 1:
        raise EvalkitError(f"{flag} must be at least 1, got {value}")
    return value


def parse_value(text: str) -> Any:
    """JSON when it parses (numbers, true/false, null, lists, objects), else the text itself."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested too deeply to be meant as JSON
        return text


def parse_vllm_arg(item: str) -> tuple[str, Any]:
    key, sep, value = item.partition("=")
    key = key.strip().removeprefix("--")
    if not sep or not KEY.match(key):
        raise EvalkitError(f"--vllm-arg {item!r}: expected KEY=VALUE, e.g. --vllm-arg enforce_eager=true")
    key = key.replace("-", "_")
    if key in RESERVED:
        raise EvalkitError(f"--vllm-arg {key}: {RESERVED[key]}")
    return key, parse_value(value)


def build_vllm_options(
    tensor_parallel_size: str | None = None,
    pipeline_parallel_size: str | None = None,
    gpu_memory_utilization: str | None = None,
    max_model_len: str | None = None,
    vllm_args: Sequence[str] = (),
) -> VLLMOptions:
    """Check every value as the user typed it; each error is one line naming the flag."""
    utilization: float | None = None
    if gpu_memory_utilization is not None:
        try:
            utilization = float(gpu_memory_utilization)
        except ValueError:
            raise EvalkitError(f"--gpu-memory-utilization must be a number, got {gpu_memory_utilization!r}") from None
        if not 0.0 < utilization <= 1.0:
            raise EvalkitError(f"--gpu-memory-utilization must be in (0, 1], got {utilization:g}")
    extra: dict[str, Any] = {}
    for item in vllm_args:
        key, value = parse_vllm_arg(item)
        if key in extra:
            raise EvalkitError(f"--vllm-arg {key} given twice")
        extra[key] = value
    return VLLMOptions(
        tensor_parallel_size=1 if tensor_parallel_size is None else _positive_int("--tensor-parallel-size", tensor_parallel_size),
        pipeline_parallel_size=1
        if pipeline_parallel_size is None
        else _positive_int("--pipeline-parallel-size", pipeline_parallel_size),
        gpu_memory_utilization=utilization,
        max_model_len=None if max_model_len is None else _positive_int("--max-model-len", max_model_len),
        extra=tuple(extra.items()),
    )


def engine_kwargs(options: VLLMOptions, dtype: str | None = None) -> dict[str, Any]:
    """Keyword arguments of `vllm.EngineArgs` (and `vllm.LLM`); `dtype` is the resolved --dtype."""
    kwargs: dict[str, Any] = {
        "tensor_parallel_size": options.tensor_parallel_size,
        "pipeline_parallel_size": options.pipeline_parallel_size,
    }
    if dtype is not None:
        kwargs["dtype"] = dtype
    if options.gpu_memory_utilization is not None:
        kwargs["gpu_memory_utilization"] = options.gpu_memory_utilization
    if options.max_model_len is not None:
        kwargs["max_model_len"] = options.max_model_len
    kwargs.update(options.extra)
    return kwargs


def _flag_values(key: str, value: Any) -> list[str]:
    """One engine option as `vllm serve` flags: booleans are switches (`--x` / `--no-x`), lists are
    several values, objects are JSON (vLLM parses dict-valued options from JSON)."""
    flag = "--" + key.replace("_", "-")
    if value is True:
        return [flag]
    if value is False:
        return ["--no-" + key.replace("_", "-")]
    if isinstance(value, list):
        return [flag, *(json.dumps(v) if isinstance(v, (dict, list)) else str(v) for v in value)]
    if isinstance(value, dict):
        return [flag, json.dumps(value)]
    return [flag, str(value)]


def serve_args(options: VLLMOptions, dtype: str | None = None) -> list[str]:
    """The same options as flags of `vllm serve`."""
    return [token for key, value in engine_kwargs(options, dtype).items() for token in _flag_values(key, value)]
