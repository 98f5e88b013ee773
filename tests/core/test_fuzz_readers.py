"""Every reader of user files refuses bad input only with EvalkitError (no traceback): the readers
called directly, and `agreement --labels`, `judge-quality --humans` and `annotate import` through
evalkit's main in-process. The default suite runs a quick pass (deep nesting included) and every
reader on files nested 100,000 levels deep; `pytest -m fuzz tests/core/test_fuzz_readers.py` runs 100,000
generated inputs over all readers, as `bench/fuzz_readers.py` does."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from evalkit.core.errors import EvalkitError
from tests.fuzz_cli import ALL_READERS
from tests.fuzz_shapes import deep_document
from tests.fuzz_support import TEMPLATES, Reader, fuzz_reader

IDS = [reader.name for reader in ALL_READERS]
QUICK_EXAMPLES = 30
FULL_TOTAL = 100_000
FULL_EXAMPLES = math.ceil(FULL_TOTAL / len(ALL_READERS))  # per reader: 100,000 in all
DEEP = {
    "json": ("[" * 100_000, '{"a": ' * 100_000, "[" * 100_000 + "1" + "]" * 100_000),
    "yaml": ("[" * 100_000, "{a: " * 100_000, "- " * 100_000 + "x"),
    "toml": ("a = " + "[" * 100_000, "a = " + "{a = " * 100_000 + "1" + "}" * 100_000),
}


@pytest.mark.parametrize("reader", ALL_READERS, ids=IDS)
def test_reader_refuses_bad_files_in_one_line(reader: Reader, tmp_path: Path) -> None:
    assert fuzz_reader(reader, QUICK_EXAMPLES, tmp_path) >= QUICK_EXAMPLES // 2


@pytest.mark.parametrize("reader", ALL_READERS, ids=IDS)
def test_reader_refuses_deep_nesting_in_one_line_naming_the_file(reader: Reader, tmp_path: Path) -> None:
    """100,000 levels alone, and in place of a value of a valid document (each reader's own first)."""
    for name, text in TEMPLATES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    valid = reader.valid + (reader.prepare(tmp_path) if reader.prepare else ())
    rng = random.Random(0)
    embedded = tuple(deep_document(rng, reader.kind, valid) for _ in range(3)) if valid else ()
    path = tmp_path / f"deep{reader.suffix}"
    for text in DEEP[reader.kind] + embedded:
        path.write_text(text, encoding="utf-8")
        try:
            reader.read(path)
        except EvalkitError as exc:
            assert path.name in str(exc) and "\n" not in str(exc), str(exc)


@pytest.mark.fuzz
@pytest.mark.parametrize("reader", ALL_READERS, ids=IDS)
def test_reader_survives_a_share_of_100000_inputs(reader: Reader, tmp_path: Path) -> None:
    assert fuzz_reader(reader, FULL_EXAMPLES, tmp_path) >= FULL_EXAMPLES * 0.9
