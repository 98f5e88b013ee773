"""Every reader of user files refuses bad input only with EvalkitError (no traceback). The default
suite runs a quick pass; `pytest -m fuzz tests/test_fuzz_readers.py` runs 10,000 inputs per reader
(100,000 in all, as bench/fuzz_readers.py does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz_support import READERS, Reader, fuzz_reader

QUICK_EXAMPLES = 30
FULL_EXAMPLES = 10_000


@pytest.mark.parametrize("reader", READERS, ids=[reader.name for reader in READERS])
def test_reader_refuses_bad_files_in_one_line(reader: Reader, tmp_path: Path) -> None:
    assert fuzz_reader(reader, QUICK_EXAMPLES, tmp_path) >= QUICK_EXAMPLES // 2


@pytest.mark.fuzz
@pytest.mark.parametrize("reader", READERS, ids=[reader.name for reader in READERS])
def test_reader_survives_ten_thousand_inputs(reader: Reader, tmp_path: Path) -> None:
    assert fuzz_reader(reader, FULL_EXAMPLES, tmp_path) >= FULL_EXAMPLES * 0.9
