"""Dialog rows as the data tools see them: the validated messages plus every other key of the line.

Training reads only `messages`; the data tools also need what sits beside them (a source, tags, a task
name, an ability category), so rows are read whole and validated with training's own rules
(evalkit.train.dialogs.parse_messages): a file `evalkit data` writes is one `evalkit train` accepts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.files.atomic_text import write_text_atomic
from evalkit.files.jsonio import json_safe
from evalkit.files.userfile import UserFile, is_file
from evalkit.train.dialogs import json_line, parse_messages


@dataclass(frozen=True)
class Row:
    messages: tuple[dict[str, str], ...]
    extra: dict[str, Any] = field(default_factory=dict)  # every other key of the line, written back unchanged
    where: str = ""  # "path:line", for reports

    @property
    def instruction(self) -> str:
        """The first user turn: what InsTag tags and what deduplication compares by default."""
        return next(m["content"] for m in self.messages if m["role"] == "user")

    @property
    def output(self) -> str:
        """The last assistant turn: what Mini LIMA lengthens and LIMA's Table 1 measures."""
        return [m["content"] for m in self.messages if m["role"] == "assistant"][-1]

    @property
    def tags(self) -> list[str]:
        value = self.extra.get("tags")
        return [str(tag) for tag in value] if isinstance(value, list) else []

    def with_extra(self, **values: Any) -> Row:
        return Row(self.messages, {**self.extra, **values}, self.where)

    def with_output(self, text: str) -> Row:
        """The same dialog with its last assistant turn replaced."""
        last = max(i for i, m in enumerate(self.messages) if m["role"] == "assistant")
        messages = tuple({**m, "content": text} if i == last else m for i, m in enumerate(self.messages))
        return Row(messages, self.extra, self.where)

    def as_json(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], **json_safe(self.extra)}


def read_rows(path: str | Path) -> list[Row]:
    """Every row of a dialog JSONL file, validated; the first problem raises EvalkitError with FILE:LINE."""
    file = Path(path)
    if not is_file(file):  # False, not an exception, for a name too long
        raise EvalkitError(f"{file}: dialog file not found")
    rows: list[Row] = []
    with UserFile(file, "dialog file") as source:  # read line by line: the text is never held whole
        for line in source.lines():
            if not line.strip():
                continue
            raw = json_line(line, source.where)
            messages = parse_messages(raw, source.where)
            extra = {k: v for k, v in raw.items() if k not in ("messages", "conversations")}
            rows.append(Row(messages, extra, source.where))
    if not rows:
        raise EvalkitError(f"{file}: no dialogs; expected one JSON object per line with a `messages` list")
    return rows


def write_rows(path: str | Path, rows: Iterable[Row]) -> int:
    """Write atomically: a killed run or a full disk never leaves half a data file or its temporary."""

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)  # a sweep's own data/ folder (a user's --out is checked)
    return write_text_atomic(target, (json.dumps(row.as_json(), ensure_ascii=False) + "\n" for row in rows))


def single_turn(user: str, assistant: str, **extra: Any) -> Row:
    return Row(({"role": "user", "content": user}, {"role": "assistant", "content": assistant}), dict(extra))


def rows_hash(rows: Iterable[Row]) -> str:
    """Identity of a data file's content, the same as training's data hash for the same messages."""
    return content_hash([list(row.messages) for row in rows])


def source_of(row: Row, default: str) -> str:
    """A row's `source` key when it has one (LIMA Table 1's rows), else the file it came from."""
    value = row.extra.get("source")
    return str(value) if isinstance(value, str) and value.strip() else default
