"""What a judgment means, defined once: shown orders, verdicts, the evaluated model's outcomes and
AlpacaEval's preference scale. Everything that reads verdicts (results tables, agreement, the
leaderboard's Compare page, human labels) translates through these tables and nowhere else.

It sits at the bottom of the layers (beside `records`), so the judges that write verdicts and the
results layer that reads them share one vocabulary without pointing upwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, Literal, overload

if TYPE_CHECKING:
    import numpy as np

# "AB": the evaluated model's answer is shown first (Answer A); "BA": the baseline's is.
ORDERS: Final[tuple[str, str]] = ("AB", "BA")
# A verdict names a shown position, or none: "A" / "B" / "tie".
VERDICTS: Final[tuple[str, str, str]] = ("A", "B", "tie")
# The evaluated model's view of one comparison; "invalid" is a reply that could not be read (never a tie).
OUTCOMES: Final[tuple[str, str, str]] = ("win", "tie", "loss")
INVALID_OUTCOME: Final = "invalid"

# AlpacaEval's scale: 1 = the baseline (output_1) wins, 2 = the model (output_2) wins, 1.5 = tie.
PREFERENCE: Final[dict[str, float]] = {"win": 2.0, "tie": 1.5, "loss": 1.0}

# A verdict on a pair's own order ("A" = output_1) on AlpacaEval's scale, and back; LABELS_BY_PREFERENCE
# lists the verdicts by that value: label codes 0, 1, 2 are their positions, and modes are listed in it.
LABEL_PREFERENCE: Final[dict[str, float]] = {"A": 1.0, "tie": 1.5, "B": 2.0}
LABEL_OF_PREFERENCE: Final[dict[float, str]] = {value: label for label, value in LABEL_PREFERENCE.items()}
LABELS_BY_PREFERENCE: Final[tuple[str, ...]] = tuple(sorted(LABEL_PREFERENCE, key=LABEL_PREFERENCE.__getitem__))
# A verdict as A's share of the comparison, the unit of a tie-discounted win rate of A: A = 1, tie = 1/2, B = 0.
SHARE_OF_A: Final[dict[str, float]] = {label: LABEL_PREFERENCE["B"] - value for label, value in LABEL_PREFERENCE.items()}
# The outcomes listed the same way (the model is output_2): loss, tie, win.
OUTCOMES_BY_PREFERENCE: Final[tuple[str, ...]] = tuple(sorted(PREFERENCE, key=PREFERENCE.__getitem__))
# "tie"'s code, both among LABELS_BY_PREFERENCE and among OUTCOMES (win, tie, loss).
TIE_CODE: Final = 1

# A <-> B: the verdict on the same pair shown the other way round.
SWAPPED: Final[dict[str, str]] = {"A": "B", "B": "A", "tie": "tie"}
# (shown order, shown verdict) -> the verdict on the pair's own order ("AB": output_1 shown first).
OWN_ORDER: Final[dict[str, dict[str, str]]] = {"AB": {verdict: verdict for verdict in VERDICTS}, "BA": SWAPPED}

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


@overload
def swapped(label: str) -> str: ...
@overload
def swapped(label: None) -> None: ...
def swapped(label: str | None) -> str | None:
    """The verdict on the pair shown the other way round (A <-> B); anything else unchanged."""
    return SWAPPED.get(label, label) if isinstance(label, str) else label


def own_order(order: str, verdict: object) -> str | None:
    """A shown verdict as the verdict on the pair's own order; None for anything unreadable."""
    return OWN_ORDER[order].get(verdict) if isinstance(verdict, str) else None


def both_orders(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One code per pair judged in both orders (codes on the pair's own view, -1 = none, tie = TIE_CODE):
    the verdict when both orders agree, a tie when they disagree (LIMA, FastChat), -1 when either is missing."""
    import numpy as np

    return np.where((first < 0) | (second < 0), -1, np.where(first == second, first, TIE_CODE))


# The majority of several raters' labels on one item: the most frequent label; among equally frequent
# ones, the one alpaca_eval's `_random_mode` picks: pandas `sample(1, random_state=123)` over the modes
# sorted by preference. MODE_TIE_CHOICE[k - 1] is the index it picks among k modes (tests check it
# against pandas), so a two-way split goes to the higher preference, a three-way one to the lowest.
MODE_TIE_SEED: Final = 123
MODE_TIE_CHOICE: Final[tuple[int, ...]] = (0, 1, 0)


def majority_codes(counts: np.ndarray) -> np.ndarray:
    """Per row of label counts (n, 3) in preference order, the majority's code. Rows must have at
    least one label."""
    import numpy as np

    is_mode = counts == counts.max(axis=1, keepdims=True)
    n_modes = is_mode.sum(axis=1)
    choice = np.array(MODE_TIE_CHOICE)[n_modes - 1]
    # the choice-th True in each row: modes are listed in ascending preference, like pandas' mode()
    rank = np.cumsum(is_mode, axis=1) - 1
    return np.argmax(is_mode & (rank == choice[:, None]), axis=1)


def majority(values: Iterable[object], by_preference: Sequence[str] = LABELS_BY_PREFERENCE) -> str | None:
    """The majority of one item's labels (values outside `by_preference` ignored), None without any.
    `by_preference`: LABELS_BY_PREFERENCE for verdicts, OUTCOMES_BY_PREFERENCE for outcomes."""
    import numpy as np

    seen = list(values)
    counts = np.array([[sum(1 for value in seen if value == label) for label in by_preference]])
    return by_preference[int(majority_codes(counts)[0])] if counts.sum() else None


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
