"""`evalkit generate`: answers from one checkpoint, or every epoch-N/ of a training run, into the store."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from evalkit.cli.commands.common import (
    add_db_flag,
    epoch_range,
    non_negative_float,
    out_path,
    positive_float,
    positive_int,
    probability,
)
from evalkit.core.errors import EvalkitError
from evalkit.core.extras import require_backend
from evalkit.generate import BACKENDS
from evalkit.generate.vllm_options import build_vllm_options

if TYPE_CHECKING:
    from evalkit.core.records import DecodingParams
    from evalkit.generate.factory import BackendOptions


def add_decoding_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("decoding (LIMA's defaults: temperature 0.7, top_p 0.9, repetition penalty 1.2)")
    group.add_argument("--greedy", action="store_true", help="greedy decoding instead of sampling")
    group.add_argument("--temperature", type=non_negative_float, default=0.7)
    group.add_argument("--top-p", type=probability, default=0.9)
    group.add_argument("--repetition-penalty", type=positive_float, default=1.2)
    group.add_argument("--max-new-tokens", type=positive_int, default=2048)
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--n", type=positive_int, default=1, help="samples per prompt")


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backend")
    group.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="default: vllm where it is installed (make vllm), else transformers (env EVALKIT_BACKEND)",
    )
    group.add_argument("--batch-size", type=positive_int, default=64, help="transformers backend: most prompts per batch")
    group.add_argument(
        "--max-batch-tokens",
        type=positive_int,
        default=None,
        help="transformers backend: most rows x (longest prompt + new tokens) per batch (16384 on CPU, 131072 on CUDA)",
    )
    group.add_argument("--device", default=None, help="transformers backend: cpu, cuda, cuda:1 (default: cuda when available)")
    group.add_argument(
        "--dtype",
        default=None,
        help="transformers and vLLM: float32, bfloat16 or float16 (default float32 on CPU, bfloat16 on CUDA); "
        "stored with every answer",
    )
    group.add_argument("--base-url", default=None, help="openai backend: server URL (env OPENAI_BASE_URL)")
    group.add_argument(
        "--model-name", default=None, help="openai backend: the model name the server knows (default: the checkpoint path)"
    )
    group.add_argument("--concurrency", type=positive_int, default=16, help="openai/vllm-server: requests in flight")
    add_vllm_flags(parser)
    add_scaleout_flags(parser)


def add_vllm_flags(parser: argparse.ArgumentParser) -> None:
    # Values are read as text and checked by build_vllm_options, so a bad one is one line, exit 2.
    group = parser.add_argument_group("vLLM engine (--backend vllm or vllm-server)")
    group.add_argument("--tensor-parallel-size", metavar="N", default=None, help="GPUs each layer is split over (default 1)")
    group.add_argument("--pipeline-parallel-size", metavar="N", default=None, help="GPUs the layers are staged over (default 1)")
    group.add_argument(
        "--gpu-memory-utilization",
        metavar="F",
        default=None,
        help="share of each GPU's memory vLLM may take, in (0, 1] (default 0.9)",
    )
    group.add_argument("--max-model-len", metavar="N", default=None, help="longest prompt + answer (default: the model's)")
    group.add_argument(
        "--vllm-arg",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="any other engine option, repeatable; VALUE is read as JSON when it parses "
        "(e.g. enforce_eager=true, max_num_seqs=256, kv_cache_dtype=fp8)",
    )


def add_scaleout_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scale-out on Ray (pip install 'evalkit[ray]')")
    group.add_argument(
        "--workers",
        metavar="N",
        default=None,
        help="generate as Ray tasks, at most N at a time: one per checkpoint, prompt shards if fewer",
    )
    group.add_argument(
        "--ray-address",
        default=None,
        help="a running Ray cluster, e.g. HEAD_IP:6379 (default: start a local one; env RAY_ADDRESS)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate answers for a prompt set from checkpoints",
        description="Generate answers for a prompt set; finished work in the store is skipped.",
    )
    parser.add_argument("--checkpoint", required=True, help="a model directory, or a training output with epoch-N/ dirs")
    parser.add_argument("--prompts", default="dev", help="dev (built in), a JSON/JSONL file, or hf:NAME[:CONFIG[:SPLIT]]")
    parser.add_argument("--epochs", type=epoch_range, default=None, help="with a training output: which epochs, e.g. 5-10")
    parser.add_argument(
        "--out", type=out_path, default=None, help="also write AlpacaEval model_outputs.json here (its folder must exist)"
    )
    add_db_flag(parser)
    add_decoding_flags(parser)
    add_backend_flags(parser)
    parser.set_defaults(handler=run)


def decoding_from_args(args: argparse.Namespace) -> DecodingParams:
    from evalkit.core.records import DecodingParams

    if args.max_new_tokens < 1 or args.n < 1:
        raise EvalkitError("--max-new-tokens and --n must be at least 1")
    return DecodingParams(
        temperature=args.temperature,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        max_new_tokens=args.max_new_tokens,
        greedy=args.greedy,
        seed=args.seed,
    )


def backend_options_from_args(args: argparse.Namespace) -> BackendOptions:
    from evalkit.core.settings import resolve
    from evalkit.generate.factory import BackendOptions, default_backend
    from evalkit.generate.precision import parse_dtype
    from evalkit.generate.scaleout import check_scaleout

    backend = str(resolve("backend", args.backend, None) or default_backend())
    vllm = build_vllm_options(
        args.tensor_parallel_size,
        args.pipeline_parallel_size,
        args.gpu_memory_utilization,
        args.max_model_len,
        args.vllm_arg,
    )
    dtype = parse_dtype(args.dtype)
    if not vllm.is_default() and backend not in ("vllm", "vllm-server"):
        raise EvalkitError(
            "vLLM engine options (--tensor-parallel-size, --max-model-len, --vllm-arg, ...) "
            f"need --backend vllm or vllm-server, not {backend}"
        )
    if dtype is not None and backend == "openai":
        raise EvalkitError("--dtype: an OpenAI-compatible server computes in its own precision; set it where it is started")
    if backend in ("vllm", "vllm-server"):
        from evalkit.generate.vllm_backend import check_vllm

        check_vllm(vllm)
    return BackendOptions(
        backend=backend,
        batch_size=args.batch_size,
        max_batch_tokens=args.max_batch_tokens,
        device=args.device,
        dtype=dtype,
        base_url=resolve("base_url", args.base_url, None, env=("OPENAI_BASE_URL",)),
        model_name=args.model_name,
        concurrency=args.concurrency,
        vllm=vllm,
        workers=check_scaleout(args.workers, args.ray_address, backend),
        ray_address=args.ray_address,
    )


def run(args: argparse.Namespace) -> int:
    from evalkit.jobs.generate import generate_answers_job

    decoding = decoding_from_args(args)
    options = backend_options_from_args(args)
    require_backend(options.backend, "evalkit generate")
    result = generate_answers_job(
        args.checkpoint, decoding, options, epochs=args.epochs, prompts=args.prompts, samples=args.n, db=args.db, out=args.out
    )
    for summary in result.summaries:
        print(
            f"{summary.model}: {summary.generated} generated, {summary.skipped} already stored, {summary.completion_tokens} tokens "
            f"({summary.decoding_label})"
        )
    for path in result.written:
        print(f"wrote {path}")
    return 0
