"""Judges defined by a YAML spec file (`--judge path/to/spec.yaml`), so a new rubric needs no code.

name: concise                 # stored as the judgments' judge_kind
mode: pairwise                # or: single
template: concise.txt         # relative to the spec; pairwise slots {instruction} {output_a} {output_b},
                              # single slots {instruction} {output}
parse: last_line              # last_line | ends_with | regex (then `pattern:`, first group = the choice)
choices:                      # reply text -> verdict (pairwise: A / B / tie) or score (single: a number)
  "Output (a)": A
  "Output (b)": B
  "Tie": tie
max_tokens: 256               # optional (default 512)
temperature: 0                # optional (default 0)
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from evalkit.core.errors import EvalkitError
from evalkit.core.records import ScorerSpec
from evalkit.files.userfile import UserFile
from evalkit.judges.aggregation import BUILTIN_OUTPUTS, spec_output
from evalkit.judges.base import INVALID, LLMJudge, Message, Reply, SlotTexts, Verdict, shown
from evalkit.judges.templates import file_template

PARSE_RULES = ("last_line", "ends_with", "regex")
PAIRWISE_VERDICTS = {"a": "A", "b": "B", "tie": "tie"}
# A custom judge may not take a built-in kind's name: its judgments would be read as that kind's.
RESERVED_NAMES = tuple(BUILTIN_OUTPUTS)


def _norm(text: str) -> str:
    return " ".join(text.split()).strip(" \t*`\"'.!").lower()


class CustomJudge(LLMJudge):
    label_suffix = "(custom spec)"

    def __init__(self, spec_path: str | Path, judge_model: str, **overrides: Any) -> None:
        path = Path(spec_path)
        with UserFile(path, "judge spec") as file:  # whatever the spec holds is refused in one line naming it
            # BaseLoader keeps every scalar a string: choice keys like YES / NO / 1 stay what the user wrote
            raw = file.yaml(yaml.BaseLoader)
            if not isinstance(raw, dict):
                raise EvalkitError(f"judge spec {path}: expected a mapping with name, mode, template, parse, choices")
            raw.update({k: v for k, v in overrides.items() if v is not None})
            self.kind = self._field(raw, path, "name", str)
            if self.kind in RESERVED_NAMES:
                raise EvalkitError(f"judge spec {path}: name {self.kind!r} is a built-in judge; choose another name")
            self.mode = self._field(raw, path, "mode", str)
            if self.mode not in ("pairwise", "single"):
                raise EvalkitError(f"judge spec {path}: mode must be pairwise or single, not {self.mode!r}")
            self.parse_rule = str(raw.get("parse", "last_line"))
            if self.parse_rule not in PARSE_RULES:
                raise EvalkitError(f"judge spec {path}: parse must be one of {', '.join(PARSE_RULES)}")
            self.pattern = self._pattern(raw, path) if self.parse_rule == "regex" and raw.get("pattern") else None
            if self.parse_rule == "regex" and self.pattern is None:
                raise EvalkitError(f"judge spec {path}: parse: regex needs a `pattern:` with one capture group")
            self.choices = self._choices(self._field(raw, path, "choices", dict), path)
            slots = ["instruction", "output_a", "output_b"] if self.mode == "pairwise" else ["instruction", "output"]
            self.template = file_template(path.parent / self._field(raw, path, "template", str)).require(slots)
            self.max_tokens = int(self._number(raw, path, "max_tokens", 512, minimum=1))
            self.temperature = self._number(raw, path, "temperature", 0.0, minimum=0.0)
        self.judge_model = judge_model
        self.label = f"{self.kind} {self.label_suffix}"

    @staticmethod
    def _field(raw: dict[str, Any], path: Path, key: str, kind: type) -> Any:
        if not isinstance(raw.get(key), kind):
            raise EvalkitError(f"judge spec {path}: missing or malformed field {key!r}")
        return raw[key]

    def _choices(self, raw: dict[Any, Any], path: Path) -> dict[str, Any]:
        choices: dict[str, Any] = {}
        for text, value in raw.items():
            if self.mode == "pairwise":
                verdict = PAIRWISE_VERDICTS.get(str(value).lower())
                if verdict is None:
                    raise EvalkitError(f"judge spec {path}: choice {text!r} must map to A, B or tie")
                choices[_norm(str(text))] = verdict
            else:
                try:
                    choices[_norm(str(text))] = float(value)
                except (TypeError, ValueError):
                    raise EvalkitError(f"judge spec {path}: choice {text!r} must map to a number") from None
        if not choices:
            raise EvalkitError(f"judge spec {path}: `choices` is empty")
        return choices

    @staticmethod
    def _number(raw: dict[str, Any], path: Path, key: str, default: float, minimum: float) -> float:
        try:
            value = float(raw.get(key, default))
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value >= minimum) or (isinstance(default, int) and value != int(value)):
            raise EvalkitError(f"judge spec {path}: {key} must be a number >= {minimum:g}, got {raw.get(key)!r}")
        return value

    @staticmethod
    def _pattern(raw: dict[str, Any], path: Path) -> re.Pattern[str]:
        try:
            return re.compile(str(raw["pattern"]))
        except re.error as exc:
            raise EvalkitError(f"judge spec {path}: pattern is not a valid regular expression ({exc})") from None

    def scorers(self) -> tuple[ScorerSpec, ...]:
        """A spec's one kind, aggregated as its mode says: a pairwise spec's verdicts (both shown orders)
        as a win rate, a single spec's choices as a mean score."""
        return (ScorerSpec(self.kind, spec_output(self.mode == "pairwise")),)

    def spec(self) -> dict[str, Any]:
        return {
            "template": self.template.hash,
            "parse": self.parse_rule,
            "pattern": self.pattern.pattern if self.pattern else None,
            "choices": self.choices,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def messages(self, texts: SlotTexts, order: str | None) -> list[Message]:
        if self.mode == "pairwise":
            first, second = shown(texts, order)
            values = {"instruction": texts.question, "output_a": first, "output_b": second}
        else:
            values = {"instruction": texts.question, "output": texts.output}
        return [{"role": "user", "content": self.template.render(values)}]

    def choice_of(self, text: str) -> str | None:
        """The choice key the reply selects under the spec's parse rule, or None."""
        if self.parse_rule == "regex":
            assert self.pattern is not None
            matches = self.pattern.findall(text)
            candidate = _norm(matches[-1] if isinstance(matches[-1], str) else matches[-1][0]) if matches else ""
            return candidate if candidate in self.choices else None
        if self.parse_rule == "last_line":
            lines = [line for line in text.splitlines() if line.strip()]
            candidate = _norm(lines[-1]) if lines else ""
            return candidate if candidate in self.choices else None
        body = _norm(text)
        ending = [choice for choice in self.choices if re.search(r"(?:^|\W)" + re.escape(choice) + "$", body)]
        return max(ending, key=len) if ending else None

    def parse(self, reply: Reply, order: str | None) -> Verdict:
        choice = self.choice_of(reply.text)
        if choice is None:
            return INVALID
        value = self.choices[choice]
        if self.mode == "pairwise":
            return Verdict(valid=True, verdict=str(value))
        return Verdict(valid=True, score=float(value))
