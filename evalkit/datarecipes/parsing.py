"""Reading structured replies of a generator model. Models wrap JSON in code fences, add a sentence
before it, or answer with garbage; what cannot be read is dropped and counted, never guessed at."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*$")


@dataclass(frozen=True)
class ParsedLines:
    items: tuple[dict[str, str], ...]
    dropped: int  # lines that looked like data (start with "{") but were not a usable object


def _clean_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not _FENCE.match(line.strip())]


def _usable(value: Any, keys: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    if not all(isinstance(value.get(k), str) and value[k].strip() for k in keys):
        return None
    if any(k in value and not isinstance(value[k], str) for k in optional):
        return None
    return {k: value[k].strip() for k in keys} | {k: str(value.get(k, "")).strip() for k in optional}


def json_lines(text: str, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> ParsedLines | None:
    """Objects with non-empty string `keys`, one per line (also inside an `instances` list, which is how
    a model sometimes answers "return the same line with more instances"). None when nothing is usable."""
    items: list[dict[str, str]] = []
    dropped = 0
    for line in _clean_lines(text):
        if not line.startswith("{"):
            continue  # prose around the data
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError):  # a model's reply, nested too deeply or not JSON
            dropped += 1
            continue
        candidates = value["instances"] if isinstance(value, dict) and isinstance(value.get("instances"), list) else [value]
        for candidate in candidates:
            usable = _usable(candidate, keys, optional)
            if usable is None:
                dropped += 1
            else:
                items.append(usable)
    return ParsedLines(tuple(items), dropped) if items else None


def json_tag_list(text: str) -> list[str] | None:
    """InsTag's reply: a JSON list of {"tag", "explanation"} objects (plain strings accepted too)."""
    body = "\n".join(_clean_lines(text))
    start, end = body.find("["), body.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(body[start : end + 1])
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    candidates = [item.get("tag") if isinstance(item, dict) else item for item in value]
    tags = [tag.strip() for tag in candidates if isinstance(tag, str) and tag.strip()]
    return tags or None
