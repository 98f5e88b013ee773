"""Decoding configurations as people read them: the short label a table shows for a decoding's stored
parameters, and what changed when a run asks for answers under another configuration than the stored one.
Pure functions of the parameters (the generator, the results layer and the command line all name
decodings this way)."""

from __future__ import annotations

from typing import Any

IMPORTED_LABEL = "imported"
SHOWN_ORDER = ("greedy", "temperature", "top_p", "repetition_penalty", "max_new_tokens", "seed", "dtype")


def decoding_label(params: dict[str, Any] | None) -> str:
    """ "greedy, rep 1.2, max 96 tokens, float32" / "T 0.7, top-p 0.9, rep 1.2, max 2048 tokens, seed 0" / "imported"."""
    if not params or params.get("imported"):
        return IMPORTED_LABEL
    limit = f"max {params.get('max_new_tokens')} tokens"
    repetition = f"rep {params.get('repetition_penalty')}"
    precision = f", {params['dtype']}" if params.get("dtype") else ""
    if params.get("greedy"):
        return f"greedy, {repetition}, {limit}{precision}"
    return (
        f"T {params.get('temperature')}, top-p {params.get('top_p')}, {repetition}, {limit}, seed {params.get('seed')}{precision}"
    )


def changed_parameters(stored: dict[str, Any], wanted: dict[str, Any]) -> str:
    """ "max_new_tokens=96" style list of the stored configuration's values that differ from `wanted`."""
    keys = [key for key in SHOWN_ORDER if stored.get(key) != wanted.get(key)]
    return ", ".join(f"{key}={stored.get(key)}" for key in keys) or "the same parameters"
