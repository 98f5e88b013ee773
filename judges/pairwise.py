"""LIMA's pairwise comparison (Figure 11): the GPT judge gets the human annotators' instructions.

Each pair is judged in both shown orders; `results.pairwise_table` combines them (agreement is the
verdict, disagreement or "Neither" a tie). The parser accepts a reply that is, or ends with, one of
the three option sentences, or a bare "A" / "B" / "Neither"; anything else is invalid, never a tie.
"""

from __future__ import annotations

import re
from typing import Any

from evalkit.core.records import ScorerSpec
from evalkit.judges.aggregation import aggregates
from evalkit.judges.base import INVALID, LLMJudge, Message, Reply, SlotTexts, Verdict, shown
from evalkit.judges.templates import Template, builtin_template

OPTIONS: dict[str, str] = {
    "answer a is significantly better": "A",
    "answer b is significantly better": "B",
    "neither is significantly better": "tie",
}
BARE: dict[str, str] = {"a": "A", "b": "B", "neither": "tie", "answer a": "A", "answer b": "B"}
PARSE_RULE = "lima-pairwise-v1: whole reply or its ending is one option sentence; bare A/B/Neither; echo of all options invalid"

_DECORATION = re.compile(r"^[\s\-*•>#`\"'(\[]+|[\s*`\"'.!)\]]+$")


def _normalize(text: str) -> str:
    """Lower-case, single-spaced, without markdown/quote decoration or final punctuation."""
    return _DECORATION.sub("", " ".join(text.split()).lower())


def parse_pairwise_reply(text: str) -> str | None:
    """ "A", "B" or "tie" from the shown order, or None when the reply is not one of the allowed forms."""
    body = _normalize(text)
    if not body:
        return None
    if body in BARE:
        return BARE[body]
    if sum(option in body for option in OPTIONS) == len(OPTIONS):
        return None  # the option list echoed back is not a choice
    for option, verdict in OPTIONS.items():
        if body.endswith(option):
            return verdict
    return None


@aggregates(ScorerSpec("pairwise", "verdict"))
class PairwiseJudge(LLMJudge):
    kind = "pairwise"
    mode = "pairwise"
    label = "pairwise (LIMA, both orders)"

    def __init__(
        self, judge_model: str, *, template: Template | None = None, max_tokens: int = 512, temperature: float = 0.0
    ) -> None:
        self.judge_model = judge_model
        self.template = (template or builtin_template("pairwise_lima.txt")).require(["instruction", "output_a", "output_b"])
        self.max_tokens = max_tokens
        self.temperature = temperature

    def spec(self) -> dict[str, Any]:
        return {
            "template": self.template.hash,
            "parse": PARSE_RULE,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def messages(self, texts: SlotTexts, order: str | None) -> list[Message]:
        first, second = shown(texts, order)
        content = self.template.render({"instruction": texts.question, "output_a": first, "output_b": second})
        return [{"role": "user", "content": content}]

    def parse(self, reply: Reply, order: str | None) -> Verdict:
        verdict = parse_pairwise_reply(reply.text)
        return INVALID if verdict is None else Verdict(valid=True, verdict=verdict)
