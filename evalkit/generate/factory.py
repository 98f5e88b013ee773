"""Build the backend a user asked for; imports stay lazy so optional extras stay optional."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.core.extras import require_backend
from evalkit.core.records import DecodingParams
from evalkit.generate.base import Generator
from evalkit.generate.checkpoint import Checkpoint
from evalkit.generate.precision import engine_dtype
from evalkit.generate.vllm_options import VLLMOptions


@dataclass(frozen=True)
class BackendOptions:
    backend: str = "transformers"
    batch_size: int = 64
    max_batch_tokens: int | None = None  # transformers backend: 16k tokens on CPU, 128k on CUDA
    device: str | None = None
    dtype: str | None = None  # local engines' precision (precision.py); None: float32 on CPU, bfloat16 on CUDA
    base_url: str | None = None
    model_name: str | None = None  # the name the server knows the model by
    concurrency: int = 16
    request_timeout_s: float = 600.0
    vllm: VLLMOptions = field(default_factory=VLLMOptions)  # both vLLM backends' engine options
    workers: int | None = None  # None: generate in this process; N: fan out as N Ray tasks at a time
    ray_address: str | None = None  # None: a local Ray instance (or RAY_ADDRESS)


def default_backend() -> str:
    """The command line's default: vLLM where it is installed, else the transformers backend.

    Measured on SmolLM2 with all 50 dev prompts on 2 CPU cores (bench/generate.py): vLLM in-process made
    323 and 260 tokens/s at 128 and 512 new tokens, evalkit's transformers loop 101 and 90; its engine
    start-up (61 s) is paid once per checkpoint, so end to end vLLM is faster from about 512 new tokens
    (121 s against 171 s) and slower for short answers (79 s against 56 s at 128). `evalkit demo` keeps
    the transformers backend (its tiny checkpoints generate in seconds)."""
    return "vllm" if vllm_installed() else "transformers"


def vllm_installed() -> bool:
    """Whether vLLM can be found, without importing it (a few seconds); whether it imports cleanly is
    vllm_backend's check, made when a vLLM backend is chosen."""
    import importlib.util

    try:
        return importlib.util.find_spec("vllm") is not None
    except ValueError:  # a module set to None in sys.modules: made unimportable on purpose
        return False


def local_dtype(options: BackendOptions) -> str:
    """The precision a local engine computes in (the transformers backend's --device decides CPU or CUDA)."""
    return engine_dtype(options.dtype, options.device if options.backend == "transformers" else None)


def effective_decoding(options: BackendOptions, decoding: DecodingParams) -> DecodingParams:
    """The decoding a backend actually applies, which is what gets stored and keyed: the OpenAI API
    has no repetition penalty, so through `--backend openai` it is 1.0 (vllm-server sends it), and a
    remote server's precision is unknown; a local engine's is the dtype it is told to use."""
    if options.backend == "openai":
        return replace(decoding, repetition_penalty=1.0, dtype=None)
    return replace(decoding, dtype=local_dtype(options))


def make_generator(checkpoint: Checkpoint, options: BackendOptions) -> Generator:
    if options.backend == "transformers":
        # Here, not only in the commands: `pick` on a store holding every answer generates nothing and so
        # needs no engine; one with answers missing learns which extra it needs before loading anything.
        # (The vLLM backends check their own import, naming the [vllm] extra, where they start the engine.)
        require_backend(options.backend, f"generating {checkpoint.name}'s answers")
        from evalkit.generate.transformers_backend import TransformersGenerator

        return TransformersGenerator(
            checkpoint.path,
            batch_size=options.batch_size,
            device=options.device,
            max_batch_tokens=options.max_batch_tokens,
            dtype=local_dtype(options),
        )
    if options.backend == "openai":
        from evalkit.generate.openai_backend import OpenAIGenerator

        if not options.base_url:
            raise EvalkitError("--backend openai needs --base-url (or OPENAI_BASE_URL)")
        return OpenAIGenerator(
            options.base_url,
            options.model_name or str(checkpoint.path),
            concurrency=options.concurrency,
            timeout_s=options.request_timeout_s,
        )
    if options.backend == "vllm":
        from evalkit.generate.vllm_backend import VLLMGenerator

        return VLLMGenerator(Path(checkpoint.path), options.vllm, local_dtype(options))
    if options.backend == "vllm-server":
        from evalkit.generate.vllm_backend import VLLMServerGenerator

        return VLLMServerGenerator(
            Path(checkpoint.path), checkpoint.name, options.vllm, local_dtype(options), concurrency=options.concurrency
        )
    raise EvalkitError(f"unknown backend {options.backend!r}; choose transformers, openai, vllm or vllm-server")
