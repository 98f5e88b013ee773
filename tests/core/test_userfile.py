"""evalkit.files.userfile, the one layer every reader of a user's file goes through: a JSON list read item
by item accepts and refuses exactly what json.loads does, rows carry the line they start on, and
every failure is one EvalkitError naming the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.core.errors import EvalkitError
from evalkit.files.userfile import UserFile

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(VALUES, max_size=5),
    indent=st.sampled_from([None, 0, 2]),
    cut=st.integers(min_value=0, max_value=200),
    insert=st.sampled_from(["", ",", "]", "[", " ", "\n", "x", "}"]),
)
def test_json_list_agrees_with_json_loads(tmp_path_factory: pytest.TempPathFactory, items: list, indent, cut, insert) -> None:
    text = json.dumps(items, indent=indent)
    text = text[:cut] + insert + text[cut:]  # valid, or broken in one place
    path = tmp_path_factory.mktemp("u") / "rows.json"
    path.write_text(text, encoding="utf-8")
    try:
        expected = json.loads(text)
    except ValueError:
        expected = None
    try:
        with UserFile(path, "rows file") as file:
            got = list(file.json_list())
    except EvalkitError as exc:
        assert expected is None or not isinstance(expected, list), f"{text!r}: {exc}"
        assert str(exc).startswith(str(path))
        return
    assert got == expected, text


def test_rows_carry_their_first_line(tmp_path: Path) -> None:
    listed = tmp_path / "rows.json"
    listed.write_text('[\n  {"a": 1},\n\n  {"a":\n 2}, 3\n]\n', encoding="utf-8")
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text('{"a": 1}\n\n{"a": 2}\r\n3\n', encoding="utf-8")
    for path, lines in ((listed, [2, 4, 5]), (jsonl, [1, 3, 4])):
        with UserFile(path, "rows file") as file:
            assert [(row, file.line) for row in file.json_rows()] == list(zip([{"a": 1}, {"a": 2}, 3], lines))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": 1}\n{"a": \n', "rows.jsonl:2: bad JSON (Expecting value)"),
        ('[{"a": 1},\n {"a": 2}\n {"a": 3}]', "rows.jsonl:3: bad JSON (Expecting ',' delimiter)"),
        ('{"a": 1}\n' + "[" * 100_000, "rows.jsonl:2: nested too deeply to read"),
        (b'{"a": 1}\n{"a": "\xff"}\n', "rows.jsonl:2: not UTF-8 text (invalid start byte); save it as UTF-8"),
    ],
)
def test_failures_are_one_line_naming_file_and_line(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(EvalkitError) as info:
        with UserFile(path, "rows file") as file:
            for row in file.json_rows():
                row["a"] + 1  # noqa: B018  # a reader's own check may fail too: the same one line
    assert str(info.value) == f"{tmp_path}/{message}"


def test_a_readers_own_check_failing_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"a": [1]}\n', encoding="utf-8")
    with pytest.raises(EvalkitError, match=r"rows.jsonl:2: unexpected content \(can only concatenate list"):
        with UserFile(path, "rows file") as file:
            for row in file.json_rows():
                row["a"] + 1  # noqa: B018


def test_missing_file_and_folder_are_named_by_their_role(tmp_path: Path) -> None:
    with pytest.raises(EvalkitError, match="rows file .*nope.jsonl not found"):
        list(UserFile(tmp_path / "nope.jsonl", "rows file").json_rows())
    with pytest.raises(EvalkitError, match="rows file .* is not a file"):
        list(UserFile(tmp_path, "rows file").json_rows())
    with pytest.raises(EvalkitError, match="cannot be read \\(File name too long\\)"):
        list(UserFile(tmp_path / ("x" * 5000), "rows file").json_rows())
