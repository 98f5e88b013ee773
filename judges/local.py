"""A judge checkpoint served for the length of one job (`--judge-checkpoint DIR`).

The checkpoint is served on a free loopback port — by vLLM's OpenAI-compatible server where vLLM is
installed, else by `transformers serve` — and judged through the same cached, resumable runner as any
endpoint. The server is a child in its own process group that the kernel stops if evalkit dies
(`ManagedServer(die_with_parent=True)`); `serve_judge` stops it when the job ends, fails or is
interrupted (Ctrl-C, or SIGTERM, which `evalkit.cli.main` turns into an interrupt).

What makes it a judge of its own: the checkpoint's fingerprint is part of every judge's spec hash (two
checkpoints never share a cached judgment), its calls cost nothing (no price lookup), and each judge
prompt is counted with the checkpoint's tokenizer and chat template before it is sent: a prompt that
does not leave room for the reply's max_tokens in the context is stored invalid ("prompt too long"),
never truncated and never a crash.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.generate.server import (
    ManagedServer,
    free_port,
    port_in_use,
    transformers_serve_command,
    vllm_cpu_env,
    vllm_serve_command,
)
from evalkit.judges.base import Message
from evalkit.judges.executor import PromptCheck

JUDGE_SERVERS: tuple[str, ...] = ("auto", "vllm", "transformers")
DEFAULT_TIMEOUT_S = 600.0
SMOLLM2_SHORTCUT = "smollm2"  # `--judge-checkpoint smollm2`: the converted SmolLM2-135M-Instruct
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length")
CHAT_OVERHEAD_TOKENS = 8  # per message, when the tokenizer has no chat template to count with


@dataclass(frozen=True)
class LocalJudgeRequest:
    """What the command line asked for: `--judge-checkpoint`, `--judge-server`, `--judge-server-timeout`,
    `--judge-server-port`, `--judge-max-model-len`, `--judge-server-arg`."""

    checkpoint: str
    server: str = "auto"
    timeout_s: float = DEFAULT_TIMEOUT_S
    port: int | None = None
    max_model_len: int | None = None
    server_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServedJudge:
    """A judge checkpoint being served. `judge_model` is the name judgments are stored under
    ("local:DIRNAME"); `request_model` the name the server answers to."""

    checkpoint: str
    fingerprint: str
    judge_model: str
    request_model: str
    base_url: str
    server: str  # "vllm" | "transformers"
    max_model_len: int | None
    max_concurrency: int | None = None  # transformers serve: 1 (concurrent requests thrash its threads)
    prompt_check: PromptCheck | None = field(default=None, repr=False, compare=False)


def vllm_available() -> bool:
    """vLLM can be found (its `vllm` script may not start when the distribution is vllm-cpu)."""
    from evalkit.generate.factory import vllm_installed

    return vllm_installed()


def choose_server(requested: str) -> str:
    if requested not in JUDGE_SERVERS:
        raise EvalkitError(f"--judge-server must be one of {', '.join(JUDGE_SERVERS)}, not {requested!r}")
    if requested == "vllm" and not vllm_available():
        raise EvalkitError("--judge-server vllm: vLLM is not installed (pip install vllm); use --judge-server transformers")
    if requested == "auto":
        requested = "vllm" if vllm_available() else "transformers"
    if requested == "transformers" and importlib.util.find_spec("fastapi") is None:
        raise EvalkitError("--judge-server transformers needs transformers' serving extra (pip install 'transformers[serving]')")
    return requested


def resolve_checkpoint(given: str) -> Path:
    """The judge checkpoint directory, checked loadable before anything starts. `smollm2` (when no such
    directory exists) is SmolLM2-135M-Instruct, converted once into evalkit's model cache."""
    from evalkit.generate.checkpoint import validate_checkpoint

    path = Path(given).expanduser()
    if given == SMOLLM2_SHORTCUT and not path.exists():
        from evalkit.models.smollm2 import get_smollm2

        path = get_smollm2()
    if not path.exists():
        raise EvalkitError(f"--judge-checkpoint {given}: no such directory")
    try:
        validate_checkpoint(path)
    except EvalkitError as exc:
        raise EvalkitError(f"--judge-checkpoint: {exc}") from None
    return path


def context_length(path: Path, requested: int | None) -> int | None:
    """The judge's context in tokens: --judge-max-model-len, else the model config's; a request above
    what the model was trained for is refused (the server would refuse it too, after loading)."""
    config = json.loads((path / "config.json").read_text())
    sources = [config, config.get("text_config") or {}]
    trained = next((int(s[key]) for s in sources for key in CONTEXT_KEYS if isinstance(s.get(key), int)), None)
    if requested is None:
        return trained
    if requested < 1:
        raise EvalkitError(f"--judge-max-model-len must be at least 1, got {requested}")
    if trained is not None and requested > trained:
        raise EvalkitError(f"--judge-max-model-len {requested} is longer than the judge checkpoint's context ({trained} tokens)")
    return requested


def prompt_checker(path: Path, max_model_len: int | None) -> PromptCheck | None:
    """Counts a judge prompt's tokens the way the server will (the checkpoint's tokenizer and chat
    template, with the generation prompt) and says when prompt + max_tokens exceed the context."""
    if max_model_len is None:
        return None
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as exc:
        raise EvalkitError(f"--judge-checkpoint {path}: its tokenizer does not load ({str(exc).splitlines()[0][:160]})") from None
    templated = bool(getattr(tokenizer, "chat_template", None))

    def count(messages: Sequence[Message]) -> int:
        if templated:
            ids: Any = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
            if hasattr(ids, "keys") and "input_ids" in ids:  # a BatchEncoding
                ids = ids["input_ids"]
            return len(ids)
        return sum(len(tokenizer.encode(m["content"], add_special_tokens=False)) + CHAT_OVERHEAD_TOKENS for m in messages)

    def check(messages: Sequence[Message], max_tokens: int) -> str | None:
        tokens = count(messages)
        if tokens + max_tokens <= max_model_len:
            return None
        return f"{tokens} prompt tokens + {max_tokens} max_tokens > {max_model_len} context"

    return check


def _extra_args(pairs: Sequence[str]) -> list[str]:
    """--judge-server-arg KEY=VALUE (repeatable) as server flags: --KEY VALUE; KEY alone: --KEY."""
    out: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lstrip("-")
        if not key:
            raise EvalkitError(f"--judge-server-arg {pair!r}: expected KEY=VALUE (e.g. gpu-memory-utilization=0.3)")
        out += [f"--{key}", value] if sep else [f"--{key}"]
    return out


def server_command(
    server: str, path: Path, name: str, port: int, max_model_len: int | None, extra: Sequence[str] = (), host: str = "127.0.0.1"
) -> tuple[list[str], dict[str, str], str]:
    """(command, environment additions, the model name requests carry) for one judge server."""
    from evalkit.generate.precision import on_cuda

    gpu = on_cuda(None)
    if server == "vllm":
        # `vllm serve`'s server, started as a module of this Python (see vllm_serve_command)
        flags: list[str] = []
        if max_model_len is not None:
            flags += ["--max-model-len", str(max_model_len)]
        if not gpu and "--dtype" not in extra:
            flags += ["--dtype", "float32"]  # on a CPU vLLM would compute a float32 checkpoint in bfloat16
        env = {} if gpu else vllm_cpu_env()
        return vllm_serve_command(str(path), name, port, host, extra=[*flags, *extra]), env, name

    command = transformers_serve_command(str(path), port, host, device="cuda" if gpu else "cpu")
    env = {} if gpu or os.environ.get("OMP_NUM_THREADS") else {"OMP_NUM_THREADS": str(cpu_threads())}
    return [*command, *extra], env, str(path)  # a pinned `transformers serve` answers only to the path it serves


def cpu_threads() -> int:
    """Threads for a CPU judge server (OMP_NUM_THREADS when the user has not set it): half the cores
    evalkit may use. Measured on 2 shared cores with SmolLM2 and a LIMA pairwise prompt (155 tokens + 7):
    1 thread 0.62-0.72 s per request, steady; 2 threads 1.2-14 s, as the threads' spin-waits fight
    whatever else runs (evalkit's own client included)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


@contextmanager
def serve_judge(request: LocalJudgeRequest, *, log: Any = None) -> Iterator[ServedJudge]:
    """Serve the judge checkpoint until the block ends (normally, by an exception or an interrupt).
    Every check that can fail (checkpoint, server choice, port, context, tokenizer) runs before the
    server starts; a server that exits or does not answer /health within the timeout is one error."""
    from evalkit.generate.checkpoint import fingerprint

    path = resolve_checkpoint(request.checkpoint)
    server = choose_server(request.server)
    if request.port is not None and port_in_use(request.port):
        raise EvalkitError(f"--judge-server-port {request.port}: the port is in use; choose another or leave it out (a free one)")
    max_model_len = context_length(path, request.max_model_len)
    extra = _extra_args(request.server_args)
    check = prompt_checker(path, max_model_len)
    identity = fingerprint(path)
    name = f"local:{path.resolve().name}"
    port = request.port or free_port()
    command, env, request_model = server_command(server, path, name, port, max_model_len, extra)
    began = time.monotonic()
    try:
        managed = ManagedServer(
            command,
            port,
            startup_timeout_s=request.timeout_s,
            env=env,
            die_with_parent=True,
            timeout_hint=" (--judge-server-timeout)",
        )
    except EvalkitError as exc:
        raise EvalkitError(f"judge server ({server}) for {path}: {exc}") from None
    try:
        if log is not None:
            log(f"judge {name}: {server} serving {path} on {managed.base_url} (up in {time.monotonic() - began:.0f} s)")
        yield ServedJudge(
            checkpoint=str(path),
            fingerprint=identity,
            judge_model=name,
            request_model=request_model,
            base_url=managed.base_url,
            server=server,
            max_model_len=max_model_len,
            max_concurrency=1 if server == "transformers" else None,
            prompt_check=check,
        )
    finally:
        managed.close()
