"""LIMA's absolute rating (section 4, Figure 3) as an LLM judge: one answer, rated Fail / Pass /
Excellent with the wording the human annotators see (evalkit.store.ratings.RATINGS; the template
prompts/absolute_lima.txt repeats it).

The rating is stored as a score, 1 = Fail, 2 = Pass, 3 = Excellent, so the single-answer results
table carries it like any other graded judge; `RATING_SCORES` maps back for LIMA's Figure 3."""

from __future__ import annotations

import re

from evalkit.core.records import ScorerSpec
from evalkit.judges.aggregation import aggregates
from evalkit.judges.base import INVALID, Reply, Verdict
from evalkit.judges.grading import GradingJudge
from evalkit.stats.absolute import RATING_ORDER

KIND = "absolute"
RATING_SCORES: dict[str, float] = {label: float(rank) for rank, label in enumerate(RATING_ORDER, start=1)}
PARSE_RULE = "lima-absolute-v1: last non-empty line is Fail, Pass or Excellent; a different rating on the line before is invalid"

_RATING_LINE = re.compile(r"^[\s*`\"'#>\-]*(?:rating\s*:?\s*)?(fail|pass|excellent)[\s*`\"'.!]*$", re.IGNORECASE)


def _rating(line: str) -> str | None:
    match = _RATING_LINE.match(line)
    return match.group(1).lower() if match else None


def parse_absolute_reply(text: str) -> str | None:
    """The rating on the last line ("fail" / "pass" / "excellent"), or None. As with LIMA's Likert
    prompt, the rating is asked for twice; two different ratings on the last two lines are invalid."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = _rating(lines[-1])
    if last is not None and len(lines) >= 2:
        previous = _rating(lines[-2])
        if previous is not None and previous != last:
            return None
    return last


@aggregates(ScorerSpec(KIND, "score"))  # 1 = Fail, 2 = Pass, 3 = Excellent
class AbsoluteJudge(GradingJudge):
    kind = KIND
    label = "absolute (LIMA Fail / Pass / Excellent)"
    TEMPLATE_FILE = "absolute_lima.txt"
    PARSE_RULE = PARSE_RULE

    def parse(self, reply: Reply, order: str | None) -> Verdict:
        rating = parse_absolute_reply(reply.text)
        return INVALID if rating is None else Verdict(valid=True, score=RATING_SCORES[rating], extra={"rating": rating})
