"""Fuzzing every reader of user files with hypothesis: random bytes, random text, and random JSON /
YAML / TOML documents built from the field names the readers look for (so inputs get past the first
check). A reader may refuse an input only with EvalkitError; anything else is a traceback a user
would see. Shared by tests/core/test_fuzz_readers.py and bench/fuzz_readers.py."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.core.errors import EvalkitError
from tests.fuzz_shapes import deep_document, large_document

FIELD_NAMES = [
    "messages",
    "role",
    "content",
    "conversations",
    "prompt",
    "instruction",
    "output",
    "id",
    "reference",
    "dataset",
    "generator",
    "preference",
    "item",
    "rater",
    "label",
    "name",
    "mode",
    "template",
    "parse",
    "choices",
    "system",
    "input",
    "inherit",
    "epochs",
    "learning_rate",
    "batch_size",
    "db",
    "judge_model",
    "user",
    "assistant",
    "A",
    "B",
    "tie",
    "small",
    "large",
    "scores",
    "max_tokens",
    "temperature",
    "output_1",
    "output_2",
    "annotator",
]
ODD_STRINGS = ["", " ", "\n", "1.5", "nan", "-1", "{instruction}", "{output}", "{output_a}", "{{", "}", "é", "\u0000", "A", "tie"]


def random_scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            1,
            2,
            -1,
            1.5,
            3.7,
            1e308,
            -0.0,
            math.nan,
            math.inf,
            rng.randint(-(1 << 40), 1 << 40),
            rng.random() * 4 - 1,
            rng.choice(FIELD_NAMES),
            rng.choice(ODD_STRINGS),
            "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 8))),
        ]
    )


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth >= 3 or roll < 0.45:
        return random_scalar(rng)
    if roll < 0.7:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = FIELD_NAMES + ODD_STRINGS
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def mutate(value: Any, rng: random.Random) -> Any:
    """A valid document with one to three changes deep inside it: a subtree replaced, a key dropped, a
    list emptied or doubled, so the readers' later checks are reached, not only the first one."""
    for _ in range(rng.randint(1, 3)):
        value = _mutate_once(copy.deepcopy(value), rng)
    return value


def _mutate_once(value: Any, rng: random.Random) -> Any:
    if not isinstance(value, (dict, list)) or not value or rng.random() < 0.2:
        return random_value(rng)
    if isinstance(value, dict):
        key = rng.choice(list(value))
        roll = rng.random()
        if roll < 0.25:
            del value[key]
        elif roll < 0.35:
            value[rng.choice(FIELD_NAMES)] = random_value(rng)
        else:
            value[key] = _mutate_once(value[key], rng)
        return value
    index = rng.randrange(len(value))
    roll = rng.random()
    if roll < 0.15:
        return value + value
    if roll < 0.25:
        return []
    value[index] = _mutate_once(value[index], rng)
    return value


def serialize(value: Any, kind: str, rng: random.Random) -> str:
    if kind == "yaml" and rng.random() < 0.8:
        return yaml.safe_dump(value, allow_unicode=True)
    if kind == "toml" and isinstance(value, dict):
        return "\n".join(
            f"{json.dumps(str(key))} = {json.dumps(item) if not isinstance(item, dict) else '{}'}" for key, item in value.items()
        )
    if isinstance(value, list) and rng.random() < 0.5:
        return "\n".join(json.dumps(row) for row in value)  # JSONL
    return json.dumps(value)


SMALL_MAX = 1_000  # bytes of raw random input; fuzz_shapes makes the large ones


@st.composite
def documents(draw: st.DrawFn, kind: str, valid: tuple[Any, ...]) -> bytes:
    """A file's bytes. Hypothesis draws the shape, raw bytes / text, and a seed; structured documents
    (random values, mutated valid examples, deep nesting, large files) are built from the seed, which
    is ~10x faster than drawing nested structures strategy by strategy and so lets a run reach
    100,000 inputs."""
    choice = draw(st.integers(0, 13))
    if choice == 0:
        return draw(st.binary(max_size=SMALL_MAX))
    if choice == 1:
        return draw(st.text(max_size=SMALL_MAX)).encode("utf-8", "surrogatepass")
    rng = random.Random(draw(st.integers(0, 1 << 32)))
    if choice >= 12:
        return deep_document(rng, kind, valid).encode("utf-8")
    if choice == 11:
        return large_document(rng, kind, valid)
    value = random_value(rng) if choice < 4 or not valid else mutate(rng.choice(valid), rng)
    return serialize(value, kind, rng).encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class Reader:
    name: str
    suffix: str
    kind: str  # json | yaml | toml: how structured documents are written
    read: Callable[[Path], Any]  # returns, or raises EvalkitError (a one-line refusal); anything else fails
    valid: tuple[Any, ...]  # documents the reader accepts, mutated into nearly valid ones
    # what the reader needs beside its file (a store, say), made once in the run's folder; returns
    # more valid documents, ones only known once that exists
    prepare: Callable[[Path], tuple[Any, ...]] | None = None


def _prompt_set(path: Path) -> Any:
    from evalkit.data import load_prompt_set

    return load_prompt_set(str(path))


def _model_outputs(path: Path) -> Any:
    from evalkit.data.alpaca import read_model_outputs

    return read_model_outputs(path)


def _annotations(path: Path) -> Any:
    from evalkit.jobs.stats_inputs import read_annotations
    from evalkit.stats.winrate import alpaca_winrate

    return alpaca_winrate(read_annotations(str(path))["preference"])


def _labels(path: Path) -> Any:
    from evalkit.jobs.stats_inputs import read_labels

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
    from evalkit.core import settings as config

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


PROMPTS = ([{"id": "a", "prompt": "Hi?", "reference": "Hello."}, {"messages": [{"role": "user", "content": "Q?"}]}],)
DIALOGS = (
    [
        {
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
            ]
        },
        {"conversations": ["q", "a", "q2", "a2"]},
    ],
)
READERS: tuple[Reader, ...] = (
    Reader("prompt set (JSONL)", ".jsonl", "json", _prompt_set, PROMPTS),
    Reader("prompt set (JSON)", ".json", "json", _prompt_set, PROMPTS),
    Reader(
        "model outputs",
        ".json",
        "json",
        _model_outputs,
        ([{"instruction": "q", "output": "a", "generator": "m", "dataset": "d"}, {"instruction": "q2", "output": ""}],),
    ),
    Reader(
        "annotations",
        ".json",
        "json",
        _annotations,
        ([{"preference": 1.5, "instruction": "q", "output_1": "a", "output_2": "b"}, {"preference": 2}, {"preference": 0}],),
    ),
    Reader(
        "labels",
        ".jsonl",
        "json",
        _labels,
        ([{"item": "1", "rater": "r1", "label": "A"}, {"item": 2, "rater": 7, "label": "tie"}],),
    ),
    Reader("training dialogs", ".jsonl", "json", _dialogs, DIALOGS),
    Reader(
        "judge spec",
        ".yaml",
        "yaml",
        _judge_spec,
        (
            {"name": "goodbad", "mode": "single", "template": "t.txt", "parse": "last_line", "choices": {"GOOD": 1, "BAD": 0}},
            {
                "name": "ab",
                "mode": "pairwise",
                "template": "p.txt",
                "parse": "regex",
                "pattern": "Winner: \\((a|b|tie)\\)",
                "choices": {"a": "A", "b": "B", "tie": "tie"},
            },
        ),
    ),
    Reader(
        "recipe",
        ".yaml",
        "yaml",
        _recipe,
        ({"inherit": "lima", "epochs": 3, "learning_rate": 1e-5}, {"epochs": 2, "learning_rate": {"small": 1e-4, "large": 1e-5}}),
    ),
    Reader("config", ".toml", "toml", _config, ({"db": "sqlite:///x.db", "judge_model": "m", "backend": "transformers"},)),
    Reader(
        "price table", ".yaml", "yaml", _prices, ({"gpt-4o": {"input": 2.5, "output": 10}, "local": {"input": 0, "output": 0}},)
    ),
)
TEMPLATES = {
    "t.txt": "Rate {instruction} -> {output}. Say GOOD or BAD.",
    "p.txt": "{instruction}\n(a) {output_a}\n(b) {output_b}",
}


def fuzz_reader(reader: Reader, examples: int, folder: Path) -> int:
    """Run `examples` generated files through the reader; raise (hypothesis' shrunk failure) when one
    ends in anything but EvalkitError. Returns how many inputs were tried."""
    path = folder / f"input{reader.suffix}"
    for name, text in TEMPLATES.items():  # what the judge specs' `template:` points at
        (folder / name).write_text(text, encoding="utf-8")
    valid = reader.valid + (reader.prepare(folder) if reader.prepare else ())
    tried = 0

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(documents(reader.kind, valid))
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
