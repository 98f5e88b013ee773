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

from evalkit.errors import EvalkitError
from evalkit.hashing import content_hash
from evalkit.jsonio import json_safe
from evalkit.train.dialogs import parse_messages


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
    if not file.is_file():
        raise EvalkitError(f"{file}: dialog file not found")
    rows: list[Row] = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise EvalkitError(f"{file}: not UTF-8 text ({exc.reason}); save the data as UTF-8 JSONL") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{file}:{lineno}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalkitError(f"{where}: not valid JSON ({exc.msg}); each line must be one JSON object") from None
        messages = parse_messages(raw, where)
        extra = {k: v for k, v in raw.items() if k not in ("messages", "conversations")}
        rows.append(Row(messages, extra, where))
    if not rows:
        raise EvalkitError(f"{file}: no dialogs; expected one JSON object per line with a `messages` list")
    return rows


def write_rows(path: str | Path, rows: Iterable[Row]) -> int:
    """Write atomically (temporary file, then rename): a killed run never leaves half a data file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    count = 0
    with temporary.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row.as_json(), ensure_ascii=False) + "\n")
            count += 1
    temporary.replace(target)
    return count


def single_turn(user: str, assistant: str, **extra: Any) -> Row:
    return Row(({"role": "user", "content": user}, {"role": "assistant", "content": assistant}), dict(extra))


def rows_hash(rows: Iterable[Row]) -> str:
    """Identity of a data file's content, the same as training's data hash for the same messages."""
    return content_hash([list(row.messages) for row in rows])


def source_of(row: Row, default: str) -> str:
    """A row's `source` key when it has one (LIMA Table 1's rows), else the file it came from."""
    value = row.extra.get("source")
    return str(value) if isinstance(value, str) and value.strip() else default
