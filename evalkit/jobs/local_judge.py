"""The judge checkpoint a job serves for its duration (`--judge-checkpoint`, or `judge_checkpoint=` in the
Python API): its settings, checked once, and the server started and stopped around the job."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalkit.core.errors import EvalkitError
from evalkit.core.extras import require_extra

if TYPE_CHECKING:
    from evalkit.judges.local import ServedJudge

# The settings that only mean something with a checkpoint to serve, by their command-line names.
SERVER_SETTINGS = ("judge_server", "judge_server_timeout", "judge_server_port", "judge_max_model_len", "judge_server_arg")


@dataclass(frozen=True)
class JudgeServerSettings:
    """A local judge: `judge_checkpoint` (a Hugging Face model directory, or smollm2) served on a loopback
    port while the job runs. `judge_base_url` / `judge_model` name another judge: they cannot go with it."""

    judge_checkpoint: str | None = None
    judge_server: str | None = None  # auto | vllm | transformers (default auto)
    judge_server_timeout: float | None = None
    judge_server_port: int | None = None
    judge_max_model_len: int | None = None
    judge_server_arg: tuple[str, ...] = ()
    judge_base_url: str | None = None
    judge_model: str | None = None


def served_judge(
    settings: JudgeServerSettings, log: Callable[[str], None] | None = None
) -> AbstractContextManager[ServedJudge | None]:
    """The judge checkpoint served while the block runs (a ServedJudge), or None without a checkpoint."""
    if not settings.judge_checkpoint:
        given = [name for name in SERVER_SETTINGS if getattr(settings, name)]
        if given:
            raise EvalkitError(f"--{given[0].replace('_', '-')} needs --judge-checkpoint DIR (the judge to serve)")
        return nullcontext(None)
    for flag in ("judge_base_url", "judge_model"):
        if getattr(settings, flag):
            raise EvalkitError(f"--judge-checkpoint serves the judge itself; drop --{flag.replace('_', '-')}")
    require_extra("serving", "--judge-checkpoint")  # the judge is served by transformers (or vLLM)
    from evalkit.judges.local import DEFAULT_TIMEOUT_S, LocalJudgeRequest, serve_judge

    request = LocalJudgeRequest(
        checkpoint=settings.judge_checkpoint,
        server=settings.judge_server or "auto",
        timeout_s=settings.judge_server_timeout or DEFAULT_TIMEOUT_S,
        port=settings.judge_server_port,
        max_model_len=settings.judge_max_model_len,
        server_args=settings.judge_server_arg,
    )
    return serve_judge(request, log=log if log is not None else _stderr)


def _stderr(line: str) -> None:
    print(f"evalkit: {line}", file=sys.stderr, flush=True)
