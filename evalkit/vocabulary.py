"""What a judgment means, defined once: shown orders, verdicts, the evaluated model's outcomes and
AlpacaEval's preference scale. Everything that reads verdicts (results tables, agreement, the
leaderboard's Compare page, human labels) translates through these tables and nowhere else.

It sits at the bottom of the layers (beside `records`), so the judges that write verdicts and the
results layer that reads them share one vocabulary without pointing upwards.
"""

from __future__ import annotations

from typing import Final, Literal

# "AB": the evaluated model's answer is shown first (Answer A); "BA": the baseline's is.
ORDERS: Final[tuple[str, str]] = ("AB", "BA")
# A verdict names a shown position, or none: "A" / "B" / "tie".
VERDICTS: Final[tuple[str, str, str]] = ("A", "B", "tie")
# The evaluated model's view of one comparison; "invalid" is a reply that could not be read (never a tie).
OUTCOMES: Final[tuple[str, str, str]] = ("win", "tie", "loss")
INVALID_OUTCOME: Final = "invalid"

# AlpacaEval's scale: 1 = the baseline (output_1) wins, 2 = the model (output_2) wins, 1.5 = tie.
PREFERENCE: Final[dict[str, float]] = {"win": 2.0, "tie": 1.5, "loss": 1.0}

# (shown order, shown verdict) -> the evaluated model's outcome.
MODEL_VIEW: Final[dict[tuple[str, str], str]] = {
    ("AB", "A"): "win",
    ("AB", "B"): "loss",
    ("BA", "A"): "loss",
    ("BA", "B"): "win",
    ("AB", "tie"): "tie",
    ("BA", "tie"): "tie",
}
# The inverse: an outcome as the label of an item shown in `order`.
SHOWN_LABEL: Final[dict[tuple[str, str], str]] = {(order, outcome): verdict for (order, verdict), outcome in MODEL_VIEW.items()}
# Seen from the other model of the pair.
FLIPPED: Final[dict[str, str]] = {"win": "loss", "loss": "win", "tie": "tie", INVALID_OUTCOME: INVALID_OUTCOME}

# What a judge kind writes to the store, which decides how its rows are read and aggregated:
#   verdict    - "A"/"B"/"tie" per shown order, asked in both orders; the orders agreeing give the
#                outcome, disagreeing a tie (LIMA, FastChat). Win rate: ties count half.
#   preference - one shown order, AlpacaEval's continuous preference 1..2 in `score`.
#                Win rate: AlpacaEval's weighted one, mean(preference - 1).
#   score      - a grade of a single answer (Likert 1-6). Mean over a prompt's valid samples, then
#                over prompts.
Output = Literal["verdict", "preference", "score"]
OUTPUTS: Final[tuple[str, str, str]] = ("verdict", "preference", "score")
COMPARES: Final[frozenset[str]] = frozenset({"verdict", "preference"})


def outcome_of(order: str, verdict: str | None) -> str:
    """The model's outcome of one shown verdict; "invalid" for anything unreadable."""
    return MODEL_VIEW.get((order, verdict or ""), INVALID_OUTCOME)


def shown_label(order: str, outcome: str | None) -> str | None:
    """The shown-position label ("A"/"B"/"tie") an outcome corresponds to, None when invalid."""
    return SHOWN_LABEL.get((order, outcome or ""))


# Why a judgment is invalid, stored as `extra["invalid_reason"]` of the judgment and counted by reason
# wherever invalid counts show. A judgment stored before reasons were recorded is an unreadable reply
# (the only way a judgment could be invalid then).
INVALID_REASON_KEY: Final = "invalid_reason"
PROMPT_TOO_LONG: Final = "prompt too long"  # the judge prompt plus the reply's max_tokens exceed the judge's context
UNPARSEABLE_REPLY: Final = "unparseable reply"
EMPTY_REPLY: Final = "empty reply"
REPLY_CUT_OFF: Final = "reply cut off at max_tokens"  # unreadable, and the judge stopped at its token limit
NOT_JUDGED: Final = "not judged"  # asked, but no judgment stored (the request failed, or the budget stopped it)
UNSPECIFIED_REASON: Final = "unspecified"  # a table that carries no reasons (a hand-made one, an annotations file)


def count_reasons(reasons: object) -> dict[str, int]:
    """{reason: count} of an iterable of reasons (missing ones counted as unspecified), most frequent
    first, then by name: the one shape every surface shows invalid counts by reason in."""
    counts: dict[str, int] = {}
    for reason in reasons:  # type: ignore[attr-defined]
        key = reason if isinstance(reason, str) and reason else UNSPECIFIED_REASON
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def format_reasons(counts: object) -> str:
    """ "prompt too long: 3, unparseable reply: 2" ("" when none): reasons for a text table."""
    if not isinstance(counts, dict) or not counts:
        return ""
    return ", ".join(f"{reason}: {int(count)}" for reason, count in counts.items())
