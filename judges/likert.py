"""LIMA's 6-point helpfulness rubric (Figure 12): reasoning first, then the choice on its own line,
then the choice repeated. LIMA grades each answer several times and reports the mean with a 95% CI
(`--samples K`; see `summary.likert_summary`)."""

from __future__ import annotations

import re

from evalkit.core.records import ScorerSpec
from evalkit.judges.aggregation import aggregates
from evalkit.judges.base import INVALID, Reply, Verdict
from evalkit.judges.grading import GradingJudge

SCALE = (1, 2, 3, 4, 5, 6)
PARSE_RULE = "lima-likert-v1: last non-empty line is one digit 1-6; a different digit on the line before is invalid"

_CHOICE_LINE = re.compile(r"^[\s*`\"'#>\-]*(?:choice\s*:?\s*)?([1-6])[\s*`\"'.]*$", re.IGNORECASE)


def _choice(line: str) -> int | None:
    match = _CHOICE_LINE.match(line)
    return int(match.group(1)) if match else None


def parse_likert_reply(text: str) -> int | None:
    """The chosen score from the last lines, or None.

    The rubric asks for the choice on its own line and then repeated, so the last line must be a lone
    digit; when the line before it is also a lone digit the two must agree (a disagreement means the
    reply is not following the rubric, and guessing would bias the mean).
    """
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = _choice(lines[-1])
    if last is None:
        return None
    if len(lines) >= 2:
        previous = _choice(lines[-2])
        if previous is not None and previous != last:
            return None
    return last


@aggregates(ScorerSpec("likert", "score"))
class LikertJudge(GradingJudge):
    kind = "likert"
    label = "likert (LIMA 6-point helpfulness)"
    TEMPLATE_FILE = "likert_lima.txt"
    PARSE_RULE = PARSE_RULE
    DEFAULT_MAX_TOKENS = 1024

    def parse(self, reply: Reply, order: str | None) -> Verdict:
        score = parse_likert_reply(reply.text)
        return INVALID if score is None else Verdict(valid=True, score=float(score))
