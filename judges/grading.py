"""Single-answer judges made of one template and one parse rule (LIMA's Likert rubric, its absolute
Fail / Pass / Excellent rating): what they send and what their spec covers, written once."""

from __future__ import annotations

from typing import Any, ClassVar

from evalkit.judges.base import LLMJudge, Message, SlotTexts
from evalkit.judges.templates import Template, builtin_template


class GradingJudge(LLMJudge):
    """Subclasses name their built-in template, parse rule and reply budget, and parse replies."""

    mode = "single"
    TEMPLATE_FILE: ClassVar[str]
    PARSE_RULE: ClassVar[str]
    DEFAULT_MAX_TOKENS: ClassVar[int] = 512

    def __init__(
        self, judge_model: str, *, template: Template | None = None, max_tokens: int | None = None, temperature: float = 0.0
    ) -> None:
        self.judge_model = judge_model
        self.template = (template or builtin_template(self.TEMPLATE_FILE)).require(["instruction", "output"])
        self.max_tokens = max_tokens if max_tokens is not None else self.DEFAULT_MAX_TOKENS
        self.temperature = temperature

    def spec(self) -> dict[str, Any]:
        return {
            "template": self.template.hash,
            "parse": self.PARSE_RULE,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def messages(self, texts: SlotTexts, order: str | None) -> list[Message]:
        return [{"role": "user", "content": self.template.render({"instruction": texts.question, "output": texts.output})}]
