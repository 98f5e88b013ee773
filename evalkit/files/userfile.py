"""Reading a user's file so that no content can crash evalkit.

Every reader of a user's file (prompt sets, model outputs, annotations, labels, dialogs, judge specs,
recipes, config, price tables) opens it as a `UserFile` and does its own checks inside the `with`
block. Whatever a parser or a check raises on content nobody planned for (nesting 100,000 levels deep,
a field of the wrong type, a file larger than memory) then leaves as one EvalkitError naming the file
and the line being read: each reader gets this by construction, not from a try/except of its own.

JSONL is read line by line and a JSON list element by element, so a large file's text, its parsed
rows and what the reader builds from them are never all in memory at once.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from evalkit.core.errors import EvalkitError

# What parsers and readers' own checks raise on content they did not expect. Anything else is a bug
# and keeps its traceback. (JSONDecodeError, TOMLDecodeError and UnicodeDecodeError are ValueErrors.)
READ_ERRORS = (RecursionError, TypeError, ValueError, UnicodeError, MemoryError)
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, no more: raw_decode accepts none before a value


def describe(exc: BaseException) -> str:
    """What went wrong, in words, for one of READ_ERRORS."""
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "too large to read into memory"
    if isinstance(exc, json.JSONDecodeError):
        return f"bad JSON ({exc.msg})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason}); save it as UTF-8"
    return f"unexpected content ({_first_line(exc)})"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:200] if lines else exc.__class__.__name__


def read_user_text(path: str | Path, what: str) -> str:
    """A user's whole text file, or one line naming it: missing, a folder, unreadable, not UTF-8, too large."""
    source = Path(path)
    check_file(source, what)
    try:
        return source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EvalkitError(f"{what} {source} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    except MemoryError:
        raise EvalkitError(f"{what} {source} is too large to read into memory") from None
    except OSError as exc:
        raise EvalkitError(f"{what} {source} cannot be read ({exc.strerror})") from None


def check_file(source: Path, what: str) -> None:
    """Refuse, in one line, a path that is no readable file: `what` names its role ("prompt file")."""
    try:
        mode = source.stat().st_mode
    except ValueError:  # e.g. a NUL character in a name read from a file
        raise EvalkitError(f"{what} {_shown(source)!r} is not a valid file name") from None
    except (FileNotFoundError, NotADirectoryError):
        raise EvalkitError(f"{what} {_shown(source)} not found") from None
    except OSError as exc:  # a name too long, a loop of links, a folder it may not enter
        raise EvalkitError(f"{what} {_shown(source)} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise EvalkitError(f"{what} {_shown(source)} is not a file")


def is_file(path: Any) -> bool:
    """Path.is_file (or a resource's), but False rather than an exception for a name the system refuses
    (too long, say): names read from a user's file are checked with it."""
    try:
        return bool(path.is_file())
    except (OSError, ValueError):
        return False


def _shown(path: Path) -> str:
    """A path as errors show it: a name a file's content made 100,000 characters long is cut short."""
    text = str(path)
    return text if len(text) <= 300 else f"{text[:200]}...{text[-60:]}"


class UserFile:
    """`with UserFile(path, "labels file") as file: for row in file.json_rows(): ...`"""

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(path)
        self.what = what  # its role, for errors about the file as a whole: "prompt file", "recipe file"
        self.line: int | None = None  # the line being read; readers reading a file whole may set it

    @property
    def where(self) -> str:
        """`path:line` (the form editors and compilers use), or the path while no line is known."""
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def error(self, problem: str) -> EvalkitError:
        return EvalkitError(f"{self.where}: {problem}")

    def __enter__(self) -> UserFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if isinstance(exc, READ_ERRORS):
            raise self.error(describe(exc)) from exc  # chained: --debug still shows where it came from

    def text(self) -> str:
        return read_user_text(self.path, self.what)

    def lines(self) -> Iterator[str]:
        """The file's lines without their line ends, read one at a time (self.line numbers them).
        Bytes are split at b"\\n" and decoded line by line, so a bad byte is reported on its own line."""
        check_file(self.path, self.what)
        try:
            with self.path.open("rb") as handle:
                for number, raw in enumerate(handle, 1):
                    self.line = number
                    yield raw.rstrip(b"\r\n").decode("utf-8")
        except OSError as exc:
            raise EvalkitError(f"{self.what} {self.path} cannot be read ({exc.strerror})") from None

    def json(self) -> Any:
        """The whole file as one JSON document."""
        return self._json_document(self.text())

    def json_lines(self) -> Iterator[Any]:
        """JSONL: each non-blank line's value, self.line on its line."""
        for line in self.lines():
            if line.strip():
                yield json.loads(line)

    def json_rows(self) -> Iterator[Any]:
        """The items of a JSON list, or the rows of a JSONL file (told apart by a leading `[`), with
        self.line on the line each starts on."""
        yield from self.json_list() if self._starts_with(b"[") else self.json_lines()

    def json_list(self) -> Iterator[Any]:
        """The items of a JSON list one by one, self.line on the line each starts on; lines are counted
        once through the file, not again from its start for every item. A document that is no list is
        refused."""
        text = self.text()
        position = _skip_space(text, 0)
        if text[position : position + 1] != "[":
            self._json_document(text)
            raise self.error("expected a JSON list")
        decoder = json.JSONDecoder()
        line, counted = 1, 0
        position = _skip_space(text, position + 1)
        try:
            while text[position : position + 1] != "]":
                line, counted = line + text.count("\n", counted, position), position
                self.line = line
                value, position = decoder.raw_decode(text, position)
                yield value
                position = _skip_space(text, position)
                if text[position : position + 1] == ",":
                    position = _skip_space(text, position + 1)
                    if text[position : position + 1] == "]":
                        raise json.JSONDecodeError("Expecting value", text, position)  # [1, 2,]
                elif text[position : position + 1] != "]":
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, position)
            end = _skip_space(text, position + 1)
            if end < len(text):
                raise json.JSONDecodeError("Extra data", text, end)
        except json.JSONDecodeError as exc:
            self.line = exc.lineno  # counted in the whole text: the file's own line
            raise

    def yaml(self, loader: Any = None) -> Any:
        """The file as one YAML document (yaml's SafeLoader unless another is given)."""
        import yaml  # here: `evalkit --help` imports no parser

        try:
            return yaml.load(self.text(), Loader=loader or yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            self.line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or _first_line(exc)
            raise self.error(f"not valid YAML ({problem})") from None

    def toml(self) -> dict[str, Any]:
        import tomllib

        try:
            return tomllib.loads(self.text())
        except tomllib.TOMLDecodeError as exc:
            raise self.error(f"not valid TOML ({exc})") from None

    def _json_document(self, text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            self.line = exc.lineno
            raise

    def _starts_with(self, prefix: bytes) -> bool:
        """Whether the file's first non-blank bytes are `prefix` (only its start is read)."""
        check_file(self.path, self.what)
        try:
            with self.path.open("rb") as handle:
                return handle.read(64 * 1024).lstrip().startswith(prefix)
        except OSError as exc:
            raise EvalkitError(f"{self.what} {self.path} cannot be read ({exc.strerror})") from None


def _skip_space(text: str, position: int) -> int:
    match = _SPACE.match(text, position)
    return match.end() if match else position
