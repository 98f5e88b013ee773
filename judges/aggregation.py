"""How a judge kind's verdicts are aggregated: declared by the judges, read by the results layer.

Every judge kind writes one type of verdict (evalkit.core.vocabulary's outputs: a pairwise verdict in both
shown orders, AlpacaEval's continuous preference, or a score on a scale), and each verdict type has
one aggregation: the results table its judgments are read into and the evalkit.stats reducer that
turns that table into figures (a win rate with ties counting half, AlpacaEval's weighted win rate, a
mean grade with its interval).

Judge classes declare the kinds they write with `@aggregates(ScorerSpec(kind, output))`; a custom YAML
judge declares its one kind from its spec's mode (`spec_output`). The built-in kinds are also listed
here (`BUILTIN_OUTPUTS`), so the results layer and the leaderboard know how to aggregate them without
importing the judge classes (alpaca-eval is slow to import); a built-in class that declared otherwise
would fail to import, and tests/architecture/test_judge_aggregation.py checks the two lists are the same.

This module imports nothing heavy: the reducers import evalkit.stats (pandas) only when called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol, TypeVar

from evalkit.core.records import ScorerSpec
from evalkit.core.vocabulary import COMPARES, OUTPUTS, Output

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.judges.base import Judge

# The evalkit.results.tables.Tables field a verdict type's judgments are read into.
TableName = Literal["pairwise", "alpaca", "single"]
JudgeClass = TypeVar("JudgeClass", bound="type[Judge]")


class Reducer(Protocol):
    """Per-row judgments of one verdict type -> one summary row per (judge, generation set[, baseline])."""

    def __call__(
        self, table: pd.DataFrame, *, n_resamples: int, level: float, seed: int, length_controlled: bool
    ) -> pd.DataFrame: ...


def win_rate(table: pd.DataFrame, *, n_resamples: int, level: float, seed: int, length_controlled: bool) -> pd.DataFrame:
    """AlpacaEval's win rate, 100 * mean(preference - 1) over valid comparisons (ties count half), with
    its interval and, when asked, the length-controlled one: evalkit.stats.summary.summarize_pairwise."""
    from evalkit.stats.summary import summarize_pairwise  # pandas: declaring a judge must not import it

    return summarize_pairwise(table, n_resamples, level, seed, length_controlled=length_controlled)


def mean_score(table: pd.DataFrame, *, n_resamples: int, level: float, seed: int, length_controlled: bool) -> pd.DataFrame:
    """The mean grade over prompts (a prompt's samples averaged first) with its bootstrap interval:
    evalkit.stats.summary.summarize_likert. Length control is a comparison's and does not apply."""
    from evalkit.stats.summary import summarize_likert  # pandas: declaring a judge must not import it

    return summarize_likert(table, n_resamples, level, seed)


@dataclass(frozen=True)
class Aggregation:
    """What a verdict type's judgments become: the results table they are read into and its reducer."""

    output: Output
    table: TableName
    reduce: Reducer
    figure: str  # what the reduction reports, in words

    @property
    def compares(self) -> bool:
        """Whether the verdicts compare an answer with a baseline's (else they grade one answer)."""
        return self.output in COMPARES


AGGREGATIONS: Final[Mapping[Output, Aggregation]] = {
    aggregation.output: aggregation
    for aggregation in (
        Aggregation("verdict", "pairwise", win_rate, "win rate; shown orders combined, ties count half"),
        Aggregation("preference", "alpaca", win_rate, "AlpacaEval's weighted win rate"),
        Aggregation("score", "single", mean_score, "mean grade with a bootstrap interval over prompts"),
    )
}

# The kinds the built-in judge classes write (evalkit.judges.registry.BUILTIN_CLASSES), by verdict type.
BUILTIN_OUTPUTS: Final[Mapping[str, Output]] = {
    "pairwise": "verdict",
    "likert": "score",
    "absolute": "score",
    "alpaca_eval": "preference",
    "reference": "verdict",
    "reference_likert": "score",
}

# Kinds declared by judge classes imported in this process (the built-ins' and any others').
_DECLARED: dict[str, Output] = {}


def aggregation_of(output: str) -> Aggregation:
    """The aggregation of a verdict type (as stored in judge_specs.output)."""
    for aggregation in AGGREGATIONS.values():
        if aggregation.output == output:
            return aggregation
    raise ValueError(f"unknown verdict type {output!r}; one of {', '.join(OUTPUTS)}")


def spec_output(pairwise: bool) -> Output:
    """The verdict type of a judge that declares none (a custom YAML spec, a store written before specs
    were recorded): verdicts in both shown orders when it judges pairs, else a score."""
    return "verdict" if pairwise else "score"


def declare(scorer: ScorerSpec) -> None:
    """Record that a judge class writes `scorer.kind` as `scorer.output`; one kind, one verdict type."""
    known = _DECLARED.get(scorer.kind, BUILTIN_OUTPUTS.get(scorer.kind))
    if known is not None and known != scorer.output:
        raise ValueError(f"judge kind {scorer.kind!r} is declared both as {known} and as {scorer.output}")
    aggregation_of(scorer.output)
    _DECLARED[scorer.kind] = scorer.output


def aggregates(*scorers: ScorerSpec) -> Callable[[JudgeClass], JudgeClass]:
    """Class decorator of a judge: the kinds it writes and their verdict types (which fix how they are
    aggregated), set as the class's SCORERS and declared here."""

    def declared(judge_class: JudgeClass) -> JudgeClass:
        for scorer in scorers:
            declare(scorer)
        judge_class.SCORERS = scorers
        return judge_class

    return declared


def declared_kinds() -> dict[str, Output]:
    """judge_kind -> verdict type of every built-in kind and every kind a judge class imported in this
    process declared, without importing any judge class."""
    return {**BUILTIN_OUTPUTS, **_DECLARED}
