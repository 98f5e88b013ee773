"""Fuzzing every reader of user files with hypothesis: random bytes, random text, and random JSON /
YAML / TOML documents built from the field names the readers look for (so inputs get past the first
check). A reader may refuse an input only with EvalkitError; anything else is a traceback a user
would see. Shared by tests/test_fuzz_readers.py and bench/fuzz_readers.py."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.errors import EvalkitError

FIELD_NAMES = [
    "messages", "role", "content", "conversations", "prompt", "instruction", "output", "id", "reference", "dataset",
    "generator", "preference", "item", "rater", "label", "name", "mode", "template", "parse", "choices", "system",
    "input", "inherit", "epochs", "learning_rate", "batch_size", "db", "judge_model", "user", "assistant", "A", "B",
    "tie", "small", "large", "scores", "max_tokens", "temperature", "output_1", "output_2", "annotator",
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 1 << 40), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(FIELD_NAMES + ["", " ", "1.5", "{instruction}", "{output}", "{output_1}", "{{", "}"]),
    st.text(max_size=12),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=6)), inner, max_size=5),
    ),
    max_leaves=12,  # deep enough to pass each reader's first checks; bigger ones cost generation time, not coverage
)


def _json_document(value: Any, shape: str) -> str:
    if shape == "jsonl" and isinstance(value, list):
        return "\n".join(json.dumps(row) for row in value)
    return json.dumps(value)


def _toml_document(value: Any) -> str:
    if not isinstance(value, dict):
        return json.dumps(value)
    return "\n".join(f"{json.dumps(str(key))} = {json.dumps(item) if not isinstance(item, dict) else '{}'}" for key, item in value.items())


@st.composite
def documents(draw: st.DrawFn, kind: str) -> bytes:
    """A file's bytes: mostly structured documents in the reader's format, some raw text and bytes."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.binary(max_size=120))
    if choice == 1:
        return draw(st.text(max_size=120)).encode("utf-8", "surrogatepass")
    value = draw(st.one_of(st.lists(VALUES, max_size=4), VALUES))
    if kind == "yaml":
        text = yaml.safe_dump(value, allow_unicode=True) if choice < 6 else _json_document(value, "json")
    elif kind == "toml":
        text = _toml_document(value)
    else:
        text = _json_document(value, "jsonl" if choice % 2 else "json")
    return text.encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Reader:
    name: str
    suffix: str
    kind: str  # json | yaml | toml: what structured documents to build
    read: Callable[[Path], Any]


def _prompt_set(path: Path) -> Any:
    from evalkit.data import load_prompt_set

    return load_prompt_set(str(path))


def _model_outputs(path: Path) -> Any:
    from evalkit.data.alpaca import read_model_outputs

    return read_model_outputs(path)


def _annotations(path: Path) -> Any:
    from evalkit.commands._statsio import read_annotations
    from evalkit.stats.winrate import alpaca_winrate

    return alpaca_winrate(read_annotations(str(path))["preference"])


def _labels(path: Path) -> Any:
    from evalkit.commands._statsio import read_labels

    return read_labels(str(path))


def _dialogs(path: Path) -> Any:
    from evalkit.train.dialogs import load_dialogs

    return load_dialogs(path)


def _judge_spec(path: Path) -> Any:
    from evalkit.judges.custom import CustomJudge

    return CustomJudge(path, "judge-model").spec_hash


def _recipe(path: Path) -> Any:
    from evalkit.train.recipes import load_recipe_spec, resolve

    return resolve(load_recipe_spec(str(path)), 1_000_000)


def _config(path: Path) -> Any:
    from evalkit import settings as config

    os.environ["EVALKIT_CONFIG"] = str(path)
    config._config_file.cache_clear()
    try:
        return config.db_url(None)
    finally:
        del os.environ["EVALKIT_CONFIG"]
        config._config_file.cache_clear()


def _prices(path: Path) -> Any:
    from evalkit.judges.pricing import load_price_table

    return load_price_table(path)


READERS: tuple[Reader, ...] = (
    Reader("prompt set (JSONL)", ".jsonl", "json", _prompt_set),
    Reader("prompt set (JSON)", ".json", "json", _prompt_set),
    Reader("model outputs", ".json", "json", _model_outputs),
    Reader("annotations", ".json", "json", _annotations),
    Reader("labels", ".jsonl", "json", _labels),
    Reader("training dialogs", ".jsonl", "json", _dialogs),
    Reader("judge spec", ".yaml", "yaml", _judge_spec),
    Reader("recipe", ".yaml", "yaml", _recipe),
    Reader("config", ".toml", "toml", _config),
    Reader("price table", ".yaml", "yaml", _prices),
)


def fuzz_reader(reader: Reader, examples: int, folder: Path) -> int:
    """Run `examples` generated files through the reader; raise (hypothesis' shrunk failure) when one
    ends in anything but EvalkitError. Returns how many inputs were tried."""
    path = folder / f"input{reader.suffix}"
    tried = 0

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(documents(reader.kind))
    def check(data: bytes) -> None:
        nonlocal tried
        tried += 1
        path.write_bytes(data)
        with contextlib.redirect_stderr(io.StringIO()):  # counted left-out rows are not failures
            try:
                reader.read(path)
            except EvalkitError:
                pass

    check()
    return tried


def fuzz_all(examples_per_reader: int) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="evalkit-fuzz-") as folder:
        return {reader.name: fuzz_reader(reader, examples_per_reader, Path(folder)) for reader in READERS}
