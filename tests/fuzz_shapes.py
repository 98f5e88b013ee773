"""Inputs of the shapes small random documents never reach: nesting tens of thousands of levels deep
(Python's parsers recurse once per level) and files of up to a megabyte (a huge string, a very long
line, thousands of rows). Each is built from a seeded random.Random, so a failing input reproduces."""

from __future__ import annotations

import json
import random
from typing import Any

import yaml

DEPTHS = (1_000, 10_000, 100_000)
YAML_DEPTHS = (500, 1_000)  # past Python's recursion limit already; deeper costs PyYAML ~1.5 s an input
SIZES = (10_000, 100_000, 1_000_000)
YAML_SIZES = (10_000, 30_000)  # PyYAML's pure-Python loader reads ~0.2 MB/s: larger ones only cost time
MARKER = "@@deep@@"  # stands for the deep part inside a valid document, replaced after serializing


def deep_text(rng: random.Random, kind: str, depth: int) -> str:
    """A value nested `depth` levels deep in the reader's syntax, closed or left open."""
    closed = rng.random() < 0.5
    if kind == "yaml":
        opener, closer, leaf = rng.choice([("[", "]", "1"), ("{a: ", "}", "1"), ("- ", "", "x")])
    else:  # JSON, and TOML's arrays and inline tables
        pairs = [("[", "]", "1"), ('{"a": ', "}", "1")] if kind == "json" else [("[", "]", "1"), ("{a = ", "}", "1")]
        opener, closer, leaf = rng.choice(pairs)
    return opener * depth + (leaf + closer * depth if closed else "")


def deep_document(rng: random.Random, kind: str, valid: tuple[Any, ...]) -> str:
    """Deep nesting alone, or in place of one value of a valid document (so a reader's later checks,
    not only its parser, meet it)."""
    depth = rng.choice(YAML_DEPTHS if kind == "yaml" else DEPTHS)
    if rng.random() < 0.5 or not valid:
        prefix = "a = " if kind == "toml" else ""
        return prefix + deep_text(rng, kind, depth)
    document = _with_marker(json.loads(json.dumps(rng.choice(valid))), rng)
    if kind == "yaml":
        text = yaml.safe_dump(document, allow_unicode=True, default_flow_style=True, width=1 << 30)
        deep = deep_text(rng, "json", depth)  # flow style: JSON's brackets are YAML too
        return text.replace(f"'{MARKER}'", deep).replace(MARKER, deep)
    if kind == "toml" and isinstance(document, dict):
        return "\n".join(f"{json.dumps(str(k))} = {json.dumps(v)}" for k, v in document.items()).replace(
            json.dumps(MARKER), deep_text(rng, "toml", depth)
        )
    rows = document if isinstance(document, list) and rng.random() < 0.5 else None
    text = "\n".join(json.dumps(row) for row in rows) if rows is not None else json.dumps(document)
    return text.replace(json.dumps(MARKER), deep_text(rng, "json", depth))


def _with_marker(value: Any, rng: random.Random) -> Any:
    """`value` with one leaf (or the whole) replaced by MARKER."""
    if isinstance(value, dict) and value and rng.random() < 0.85:
        key = rng.choice(list(value))
        value[key] = _with_marker(value[key], rng)
        return value
    if isinstance(value, list) and value and rng.random() < 0.85:
        index = rng.randrange(len(value))
        value[index] = _with_marker(value[index], rng)
        return value
    return MARKER


def large_document(rng: random.Random, kind: str, valid: tuple[Any, ...]) -> bytes:
    """A file of 10 kB to 1 MB: random bytes, one very long line, a huge string in a valid row, or
    thousands of valid rows."""
    size = rng.choice(YAML_SIZES if kind == "yaml" else SIZES)
    roll = rng.random()
    if roll < 0.25 or not valid:
        return rng.randbytes(size)
    if roll < 0.4:
        return ("x" * size if rng.random() < 0.5 else "[" + "1," * (size // 2) + "1]").encode()
    document = json.loads(json.dumps(rng.choice(valid)))
    if roll < 0.7:
        document = _with_huge_string(document, rng, size)
    elif isinstance(document, list) and document:
        document = document * max(1, min(size // 50, 20_000) // len(document))  # thousands of rows
    if kind == "yaml":
        return yaml.safe_dump(document, allow_unicode=True).encode()
    if isinstance(document, list) and rng.random() < 0.5:
        return "\n".join(json.dumps(row) for row in document).encode()  # JSONL
    return json.dumps(document).encode()


def _with_huge_string(value: Any, rng: random.Random, size: int) -> Any:
    marked = _with_marker(value, rng)
    text = json.dumps(marked).replace(json.dumps(MARKER), json.dumps("é" * (size // 2)))
    return json.loads(text)
