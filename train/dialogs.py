"""Training dialogs: read a JSONL file and reject anything malformed with its file and line.

A bad row found after an hour of tokenizing, or silently skipped, costs more than a strict reader, so
every rule is checked up front and every violation is reported (`FILE: N bad lines of M: line L: what
is wrong; ...`), the first 20 in full.

Accepted rows (one JSON object per line):
  {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...], ...any other keys}
  {"conversations": ["user turn", "assistant turn", ...]}   (LIMA's released format)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.files.userfile import READ_ERRORS, UserFile, describe, is_file

ROLES = ("system", "user", "assistant")
MAX_REPORTED = 20  # problems listed in the error; the count covers all of them


@dataclass(frozen=True)
class Dialog:
    """One validated conversation and where it came from (for error messages and skip reports)."""

    messages: tuple[dict[str, str], ...]
    source: str  # "path:line"


def load_dialogs(path: str | Path) -> list[Dialog]:
    """Every dialog of a JSONL file, validated; raise EvalkitError naming file and line on the first problem."""
    file = Path(path)
    if not is_file(file):  # False, not an exception, for a name too long
        raise EvalkitError(f"{file}: training data file not found")
    dialogs: list[Dialog] = []
    problems: list[str] = []
    with UserFile(file, "training data file") as source:  # read line by line: the text is never held whole
        for line in source.lines():
            if not line.strip():
                continue
            try:
                dialogs.append(Dialog(parse_messages(json_line(line, source.where), source.where), source.where))
            except EvalkitError as exc:
                problems.append(str(exc).replace(f"{file}:", "line ", 1))
    if problems:
        raise EvalkitError(bad_lines_message(file, problems, len(dialogs) + len(problems)))
    if not dialogs:
        raise EvalkitError(f"{file}: no dialogs; expected one JSON object per line with a `messages` list")
    return dialogs


def json_line(line: str, where: str) -> Any:
    """One JSONL line's value, or an EvalkitError for it alone (the caller goes on to the next line)."""
    try:
        return json.loads(line)
    except READ_ERRORS as exc:  # nesting too deep included: no input may end in a traceback
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else describe(exc)
        raise EvalkitError(f"{where}: not valid JSON ({reason}); each line must be one JSON object") from None


def bad_lines_message(file: Path, problems: list[str], rows: int) -> str:
    """Every problem of the file in one line (the first MAX_REPORTED), then how many there are, so
    one edit pass fixes them all."""
    shown = "; ".join(problems[:MAX_REPORTED])
    more = f"; ... ({len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
    count = f"{len(problems)} bad line{'s' if len(problems) != 1 else ''} of {rows}"
    return f"{file}: {count}: {shown}{more}"


def parse_messages(row: Any, where: str) -> tuple[dict[str, str], ...]:
    """The row's messages as plain {role, content} dicts, after checking roles, order and contents."""
    if not isinstance(row, dict):
        raise EvalkitError(f"{where}: expected a JSON object with a `messages` list, got {type(row).__name__}")
    if "messages" in row:
        raw = row["messages"]
        if not isinstance(raw, list) or not raw:
            raise EvalkitError(f"{where}: `messages` must be a non-empty list of {{role, content}} objects")
        messages = [_message(item, where, index) for index, item in enumerate(raw)]
    elif "conversations" in row:
        raw = row["conversations"]
        if not isinstance(raw, list) or not raw or not all(isinstance(turn, str) for turn in raw):
            raise EvalkitError(f"{where}: `conversations` must be a non-empty list of strings (user, assistant, ...)")
        messages = [{"role": ("user", "assistant")[i % 2], "content": turn} for i, turn in enumerate(raw)]
        for index, message in enumerate(messages):
            _check_content(message["content"], where, index)
    else:
        raise EvalkitError(f"{where}: missing `messages` (a list of {{role, content}} objects)")
    _check_order(messages, where)
    return tuple(messages)


def _message(item: Any, where: str, index: int) -> dict[str, str]:
    if not isinstance(item, dict):
        raise EvalkitError(f"{where}: message {index + 1} must be an object with `role` and `content`")
    role, content = item.get("role"), item.get("content")
    if role not in ROLES:
        raise EvalkitError(f"{where}: message {index + 1} has role {role!r}; use one of {', '.join(ROLES)}")
    _check_content(content, where, index)
    return {"role": role, "content": content}


def _check_content(content: Any, where: str, index: int) -> None:
    if not isinstance(content, str):
        raise EvalkitError(f"{where}: message {index + 1} needs a string `content`, got {type(content).__name__}")
    if not content.strip():
        raise EvalkitError(f"{where}: message {index + 1} has empty content; remove the turn or write it")


def _check_order(messages: list[dict[str, str]], where: str) -> None:
    """An optional system turn, then user and assistant strictly alternating, ending with the assistant."""
    turns = messages[1:] if messages[0]["role"] == "system" else messages
    for index, message in enumerate(turns):
        expected = ("user", "assistant")[index % 2]
        if message["role"] != expected:
            position = index + 1 + (len(messages) - len(turns))
            if message["role"] == "system":
                raise EvalkitError(f"{where}: message {position} is a system turn; only the first message may be one")
            raise EvalkitError(
                f"{where}: message {position} is {message['role']!r} but {expected!r} was expected; "
                "after an optional system turn, user and assistant turns must alternate"
            )
    if not turns or turns[-1]["role"] != "assistant":
        raise EvalkitError(f"{where}: the dialog must end with an assistant turn (nothing to learn from otherwise)")


def data_hash(dialogs: list[Dialog]) -> str:
    """Identity of the training data: its messages in order, independent of file name and JSON formatting."""
    return content_hash([list(dialog.messages) for dialog in dialogs])
