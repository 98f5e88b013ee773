"""Load a prompt set from `dev` (built in), a JSON/JSONL file, or `hf:NAME[:CONFIG[:SPLIT]]`."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from evalkit.core.errors import EvalkitError
from evalkit.core.records import Prompt, PromptSet
from evalkit.data.rows import prompt_from_row
from evalkit.files.userfile import UserFile

BUILTIN_SETS = ("dev",)


def read_json_rows(file: UserFile) -> Iterator[tuple[Any, int]]:
    """Rows of a JSON list or JSONL file, each with its line, read one at a time (a `.json` file must
    hold a list). Errors name the file and line: see evalkit.files.userfile."""
    rows = file.json_list() if file.path.suffix == ".json" else file.json_rows()
    for row in rows:
        yield row, file.line or 0


def prompts_from_rows(rows: Iterable[tuple[Any, int]], where: Callable[[int], str], source: str) -> tuple[Prompt, ...]:
    """Prompts of (row, position) pairs; `where(position)` names a row in errors, and is only called
    for one, so a million rows carry no million location strings."""
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    for index, (row, position) in enumerate(rows):
        prompt = prompt_from_row(row, index, where(position))
        if prompt.id in seen:
            raise EvalkitError(f"{where(position)}: duplicate id {prompt.id!r} (first at {where(seen[prompt.id])})")
        seen[prompt.id] = position
        prompts.append(prompt)
    if not prompts:
        raise EvalkitError(f"{source}: no prompts")
    return tuple(prompts)


def prompts_from_file(path: Path, source: str) -> tuple[Prompt, ...]:
    with UserFile(path, "prompt file") as file:
        return prompts_from_rows(read_json_rows(file), lambda line: f"{path}:{line}", source)


def _builtin(name: str) -> PromptSet:
    resource = resources.files("evalkit.prompts").joinpath("sets", f"{name}.jsonl")
    with resources.as_file(resource) as path:
        return PromptSet(name, prompts_from_file(Path(path), name), source=f"builtin:{name}")


HUB_PROBE_TIMEOUT_S = 3.0
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def hub_offline() -> bool:
    """Whether the hub is out of reach: set offline by the user, or one TCP connect to it fails. Then
    datasets is put in offline mode (cache only), so an uncached set fails at once instead of after
    ~25 s of retries logged line by line."""
    if any(os.environ.get(var, "").lower() in ("1", "true", "yes", "on") for var in OFFLINE_VARIABLES):
        return True
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection(
            (endpoint.hostname or "huggingface.co", endpoint.port or 443), timeout=HUB_PROBE_TIMEOUT_S
        ).close()
        return False
    except OSError:
        pass
    for var in OFFLINE_VARIABLES:
        os.environ[var] = "1"
    for module, attribute in (("datasets.config", "HF_HUB_OFFLINE"), ("huggingface_hub.constants", "HF_HUB_OFFLINE")):
        if module in sys.modules:  # already imported: they read the variables at import time
            setattr(sys.modules[module], attribute, True)
    return True


def _huggingface(spec: str) -> PromptSet:
    _, *parts = spec.split(":")
    name, config, split = (parts + ["", "", ""])[:3]
    if not name:
        raise EvalkitError(f"{spec}: use hf:NAME[:CONFIG[:SPLIT]]")
    offline = hub_offline()
    try:
        import datasets
    except ImportError:
        raise EvalkitError("hf: prompt sets need the `datasets` package: pip install datasets") from None
    try:
        data = datasets.load_dataset(name, config or None, split=split or "train")
    except Exception as exc:  # datasets raises many types; offline and missing sets included
        where = (
            "the hub is unreachable and it is not in the local cache" if offline else "it needs network access or a local cache"
        )
        raise EvalkitError(
            f"{spec}: cannot load the Hugging Face dataset ({exc.__class__.__name__}); {where}; "
            "export it to JSONL and pass the file"
        ) from None
    rows = ((row, number) for number, row in enumerate(data, 1))
    return PromptSet(spec, prompts_from_rows(rows, lambda number: f"{spec}: row {number}", spec), source=spec)


def load_prompt_set(spec: str, name: str | None = None) -> PromptSet:
    """`dev` -> built-in set; `hf:...` -> a hub dataset; anything else is a file path."""
    if spec in BUILTIN_SETS:
        return _builtin(spec)
    if spec.startswith("hf:"):
        return _huggingface(spec)
    path = Path(spec)
    prompt_set_name = name or path.stem
    return PromptSet(prompt_set_name, prompts_from_file(path, str(path)), source=str(path.resolve()))
