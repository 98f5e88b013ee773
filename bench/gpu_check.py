"""GPU check: both vLLM backends against the transformers backend, greedy, on one CUDA GPU.

For a real checkpoint (`evalkit models get smollm2 --out DIR`, passed as --model DIR) and a tiny bf16
one built here, it generates the same prompts with transformers, in-process vLLM and `vllm serve`,
checks each vLLM answer equals the transformers one token for token on at least --min-match of the
prompts, and prints tokens/s of each against transformers, measured in this run after a warm-up.
Exits 0 when every backend matches on every model, 1 when one falls below --min-match, 2 when it
cannot run (no CUDA device, vLLM not installed, a bad argument).

    .venv/bin/python bench/gpu_check.py --model DIR [--prompts 24] [--new-tokens 128] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BACKENDS = ("vllm", "vllm-server")


@dataclass(frozen=True)
class Run:
    """One backend's answers (by prompt hash) and the time its generation took, start-up apart."""

    backend: str
    texts: dict[str, str]
    completion_tokens: int
    seconds: float
    startup_s: float

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Match:
    matched: int
    total: int
    mismatches: list[dict[str, Any]] = field(default_factory=list)  # prompt, first differing token, both lengths

    @property
    def rate(self) -> float:
        return self.matched / self.total if self.total else 0.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="the real checkpoint (evalkit models get smollm2 --out DIR)")
    parser.add_argument("--no-tiny", action="store_true", help="skip the tiny bf16 checkpoint")
    parser.add_argument("--prompts", type=int, default=24, help="first N prompts of the dev set")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--min-match", type=float, default=0.9, help="share of prompts whose answers must match token for token")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated subset of " + ", ".join(BACKENDS))
    parser.add_argument("--gpu-memory-utilization", default="0.5", help="each vLLM engine's share of the GPU")
    parser.add_argument("--vllm-arg", action="append", default=[], metavar="KEY=VALUE", help="passed to both vLLM backends")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not args.backends or set(args.backends) - set(BACKENDS):
        parser.error(f"--backends must be a subset of {', '.join(BACKENDS)}")
    if not 0 < args.min_match <= 1:
        parser.error("--min-match must be in (0, 1]")
    if args.prompts < 1 or args.new_tokens < 1:
        parser.error("--prompts and --new-tokens must be at least 1")
    if args.model is not None and not (args.model / "config.json").is_file():
        parser.error(f"--model {args.model}: no config.json (make it with `evalkit models get smollm2 --out DIR`)")
    if args.model is None and args.no_tiny:
        parser.error("nothing to check: give --model DIR or drop --no-tiny")
    from evalkit.core.errors import EvalkitError
    from evalkit.generate.vllm_options import build_vllm_options

    try:
        args.vllm = build_vllm_options(gpu_memory_utilization=args.gpu_memory_utilization, vllm_args=args.vllm_arg)
    except EvalkitError as exc:
        parser.error(str(exc))
    return args


def token_match(reference: dict[str, str], candidate: dict[str, str], encode: Callable[[str], list[int]]) -> Match:
    """Prompts whose candidate answer has exactly the reference answer's tokens (a missing answer is a miss)."""
    match = Match(matched=0, total=len(reference))
    for key, expected_text in reference.items():
        expected = encode(expected_text)
        got = encode(candidate[key]) if key in candidate else None
        if got == expected:
            match.matched += 1
            continue
        first = (
            None
            if got is None
            else next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
        )
        match.mismatches.append(
            {
                "prompt": key,
                "first_diff_token": first,
                "expected_tokens": len(expected),
                "got_tokens": None if got is None else len(got),
            }
        )
    return match


def verdict(matches: dict[str, dict[str, Match]], min_match: float) -> tuple[int, list[str]]:
    """(exit code, one line per model and backend); any backend below min_match on any model fails."""
    lines, failed = [], False
    for model, by_backend in matches.items():
        for backend, match in by_backend.items():
            ok = match.rate >= min_match
            failed |= not ok
            lines.append(
                f"{model} {backend}: {match.matched}/{match.total} token-identical ({match.rate:.0%}) "
                f"{'ok' if ok else f'BELOW {min_match:.0%}'}"
            )
    return (1 if failed else 0), lines


def build_tiny_bf16(out: Path) -> Path:
    """A tiny Llama saved in bf16, head size 64 (a size every vLLM attention kernel supports)."""
    import torch
    from transformers import AutoModelForCausalLM

    from evalkit.models.tiny import DEFAULT_CORPUS, build_tiny_model

    path = build_tiny_model(out, DEFAULT_CORPUS * 20, hidden_size=128, heads=2, layers=2)
    AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).save_pretrained(path)
    return path


def timed_run(backend: str, make: Callable[[], Any], requests: list[Any], decoding: Any) -> Run:
    """Build the generator, warm it up on two prompts, then time the whole set."""
    began = time.perf_counter()
    generator = make()
    try:
        for _ in generator.generate(requests[:2], decoding):
            pass
        startup = time.perf_counter() - began
        began = time.perf_counter()
        results = [r for batch in generator.generate(requests, decoding) for r in batch]
        seconds = time.perf_counter() - began
    finally:
        generator.close()
        gc.collect()
    return Run(
        backend, {r.prompt_hash: r.text for r in results}, sum(r.completion_tokens or 0 for r in results), seconds, startup
    )


def check_model(name: str, path: Path, args: argparse.Namespace) -> tuple[dict[str, Match], list[Run]]:
    import torch
    from transformers import AutoTokenizer

    from evalkit.core.records import DecodingParams, GenerationRequest
    from evalkit.data import load_prompt_set
    from evalkit.generate.checkpoint import Checkpoint
    from evalkit.generate.factory import BackendOptions, make_generator

    requests = [GenerationRequest(p, 0) for p in load_prompt_set("dev").prompts[: args.prompts]]
    decoding = DecodingParams(greedy=True, max_new_tokens=args.new_tokens, repetition_penalty=1.0)
    checkpoint = Checkpoint(path, name)
    runs = [
        timed_run(
            "transformers",
            lambda: make_generator(checkpoint, BackendOptions(device="cuda", dtype="bfloat16")),
            requests,
            decoding,
        )
    ]
    torch.cuda.empty_cache()  # the vLLM engines below size their KV cache from the free memory
    for backend in args.backends:
        runs.append(
            timed_run(
                backend,
                lambda b=backend: make_generator(checkpoint, BackendOptions(backend=b, dtype="bfloat16", vllm=args.vllm)),
                requests,
                decoding,
            )
        )
        torch.cuda.empty_cache()
    tokenizer = AutoTokenizer.from_pretrained(path)

    def encode(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    return {run.backend: token_match(runs[0].texts, run.texts, encode) for run in runs[1:]}, runs


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing was run", file=sys.stderr)
        return 2
    try:
        import vllm  # noqa: F401
    except ImportError:
        print("gpu_check: vllm is not installed (pip install 'evalkit[vllm]'); nothing was run", file=sys.stderr)
        return 2
    print(f"device: {torch.cuda.get_device_name(0)}; {args.prompts} dev prompts, greedy, {args.new_tokens} new tokens")
    matches: dict[str, dict[str, Match]] = {}
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        models = ([("real", args.model)] if args.model else []) + (
            [] if args.no_tiny else [("tiny-bf16", build_tiny_bf16(Path(tmp) / "tiny"))]
        )
        for name, path in models:
            matches[name], runs = check_model(name, path, args)
            base = runs[0].tokens_per_s
            for run in runs:
                ratio = run.tokens_per_s / base if base else 0.0
                print(
                    f"{name:10s} {run.backend:13s} {run.tokens_per_s:10,.0f} tok/s  x{ratio:5.2f} vs transformers"
                    f"  ({run.completion_tokens} tokens in {run.seconds:.1f} s; start-up {run.startup_s:.0f} s)"
                )
                figures.append(
                    {
                        "model": name,
                        "backend": run.backend,
                        "tokens_per_s": run.tokens_per_s,
                        "vs_transformers": ratio,
                        "completion_tokens": run.completion_tokens,
                        "seconds": run.seconds,
                        "startup_s": run.startup_s,
                    }
                )
    code, lines = verdict(matches, args.min_match)
    print("\n".join(lines))
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                {
                    "figures": figures,
                    "matches": {m: {b: asdict(x) | {"rate": x.rate} for b, x in by.items()} for m, by in matches.items()},
                    "exit": code,
                },
                indent=2,
            )
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
