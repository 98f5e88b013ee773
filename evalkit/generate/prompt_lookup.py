"""Draft tokens for greedy decoding, looked up in each row's own prompt and answer (prompt lookup).

A small model decoding greedily copies: phrases of the question, and its own earlier sentences (on the
50 dev prompts at most 512 new tokens, 14 of SmolLM2's answers ran to the limit, most of them repeating
a paragraph). When the last few tokens of a row occurred before, the tokens that followed them then are
a cheap guess at what follows now. The decode loop feeds such guesses with the row's next token in one
forward and keeps the longest prefix the model itself would have chosen: the answer is the same, and a
step that streams every weight once yields several tokens of a row instead of one.

`DraftPlanner` decides which rows feed guessed tokens and how many, from what it measured: the seconds
one more fed token costs and each row's recent share of accepted guesses. Every fed token is computed
whether it is kept or not, so a guess pays only where it is likely to be right: on a CPU a fed token
costs nearly as much as a row does, on a GPU far less.

The idea and the n-gram lookup are those of transformers' `PromptLookupCandidateGenerator`
(`prompt_lookup_num_tokens`), which serves one sequence at a time; this keeps an index per row, so a
batch's drafts cost a dictionary lookup each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

NGRAM_SIZES = (3, 2)  # the longest matching suffix wins: 3 tokens are a likelier repeat than 2
MAX_DRAFT = 8
BASE_REFRESH_STEPS = 16  # re-measure a step without drafts this often: its cost falls as rows end
COST_DECAY = 0.9  # weight of older draft steps in the cost of a fed token
OPTIMISM_DECAY = 0.8  # per step without drafts: how fast a high cost estimate is forgotten
ACCEPTANCE_DECAY = 0.7  # weight of a row's older guesses: a row that starts repeating is noticed in a few steps


class PromptLookup:
    """Per row (keyed by the caller's row id): its tokens, and where each short n-gram of them last
    occurred with a token after it."""

    def __init__(self, sequences: Mapping[int, Sequence[int]]) -> None:
        self.tokens: dict[int, list[int]] = {}
        self.follows: dict[int, dict[tuple[int, ...], int]] = {}
        for row, tokens in sequences.items():
            self.tokens[row], self.follows[row] = [], {}
            self.extend(row, tokens)

    def extend(self, row: int, tokens: Sequence[int]) -> None:
        sequence, follows = self.tokens[row], self.follows[row]
        for token in tokens:
            end = len(sequence)  # the n-grams ending just before the new token now have a follower
            for size in NGRAM_SIZES:
                if end >= size:
                    follows[tuple(sequence[end - size : end])] = end
            sequence.append(token)

    def draft(self, row: int, length: int) -> list[int]:
        """Up to `length` tokens that followed the last earlier occurrence of the row's longest matching
        suffix; a repeat that reaches the end of the row continues with itself (a loop keeps looping)."""
        sequence, follows = self.tokens[row], self.follows[row]
        for size in NGRAM_SIZES:
            start = follows.get(tuple(sequence[-size:])) if len(sequence) >= size else None
            if start is not None:
                guess: list[int] = []
                for offset in range(length):
                    index = start + offset
                    guess.append(sequence[index] if index < len(sequence) else guess[index - len(sequence)])
                return guess
        return []


class DraftPlanner:
    """Which rows feed draft tokens next step, and how many: as many as raise the expected tokens per second.

    Expected tokens: per live row 1, plus p^j for its j-th draft token, p the row's recent acceptance rate
    (prior 1/2). Expected seconds: the last measured step without drafts, plus the measured cost of one
    more fed token for each draft token; that cost starts at 0 (optimistic: the first draft step measures it)
    and drifts down while no step drafts, so one noisy measurement cannot price drafts out for good.
    Draft tokens are taken best first while each adds more tokens than the time it costs would give."""

    def __init__(self, max_draft: int = MAX_DRAFT) -> None:
        self.max_draft = max_draft
        self.base_seconds: float | None = None
        self.steps_since_base = 0
        # the cost of one more fed token: extra seconds over extra tokens, both decayed sums (a ratio of sums,
        # as single steps with a few draft tokens are mostly timing noise)
        self.extra_seconds = 0.0
        self.extra_tokens = 0.0
        self.drafted_since_base = False
        self.accepted: dict[int, float] = {}  # decayed counts per row
        self.offered: dict[int, float] = {}

    @property
    def token_seconds(self) -> float:
        return self.extra_seconds / self.extra_tokens if self.extra_tokens else 0.0

    def acceptance(self, row: int) -> float:
        return (self.accepted.get(row, 0.0) + 1) / (self.offered.get(row, 0.0) + 2)

    def choose(self, available: Mapping[int, int]) -> dict[int, int]:
        """`available`: each live row's draft length (0 without a match) -> the draft length each row feeds
        (rows left out feed none)."""
        if self.base_seconds is None or self.steps_since_base >= BASE_REFRESH_STEPS:
            return {}
        candidates = sorted(
            ((self.acceptance(row) ** j, row) for row, length in available.items() for j in range(1, length + 1)),
            reverse=True,
        )
        expected, seconds = float(len(available)), self.base_seconds
        lengths: dict[int, int] = {}
        for value, row in candidates:
            if value * seconds <= expected * self.token_seconds:  # this token would lower tokens per second
                break
            expected, seconds = expected + value, seconds + self.token_seconds
            lengths[row] = lengths.get(row, 0) + 1
        return lengths

    def observe(self, drafted: int, seconds: float, outcomes: Mapping[int, tuple[int, int]]) -> None:
        """A step fed `drafted` draft tokens in all and took `seconds`; outcomes: row -> (fed, accepted)."""
        if drafted == 0:
            if not self.drafted_since_base:  # drafts priced out: let the estimate drift optimistic, to try again
                self.extra_seconds *= OPTIMISM_DECAY
            self.base_seconds, self.steps_since_base, self.drafted_since_base = seconds, 0, False
            return
        self.steps_since_base, self.drafted_since_base = self.steps_since_base + 1, True
        if self.base_seconds is not None:
            self.extra_seconds = COST_DECAY * self.extra_seconds + max(0.0, seconds - self.base_seconds)
            self.extra_tokens = COST_DECAY * self.extra_tokens + drafted
        for row, (guessed, accepted) in outcomes.items():
            if guessed:
                # a rejection ends the draft: accepted tokens are successes, the first rejected one a failure
                self.accepted[row] = ACCEPTANCE_DECAY * self.accepted.get(row, 0.0) + accepted
                self.offered[row] = ACCEPTANCE_DECAY * self.offered.get(row, 0.0) + accepted + (accepted < guessed)
