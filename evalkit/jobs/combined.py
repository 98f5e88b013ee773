"""The combined win-rate job (`evalkit stats combined`): a few human labels and one judge's labels on
many items, combined by prediction-powered inference (PPI++) into the humans' tie-discounted win rate
of A as if they had labelled every item of the judge's file, with a valid interval.

Files are read as `judge-quality` reads them; the humans' labels are put on the judge's items by the
same matching (`judges_from_file`, roles swapped: the judge's file is the item set here), so a pair
shown the other way round is flipped and "A" always means the judge file's first answer.

The judge's labels come from a file (`judge_labels`), or from running one judge (`judge`, NAME[@MODEL])
on every pair of an items file (`items`). The items file, not the humans' file, is what the judge runs
on: the estimate is about every item of it, the humans label a subset, and a judge run only on the
humans' items would add nothing to their labels. Runs are cached in the store like `judge-quality --judge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError
from evalkit.core.vocabulary import SHARE_OF_A, VERDICTS

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.data.human_labels import LabelledPairs
    from evalkit.jobs.judge_quality import JudgeQualityRequest

METHOD = "ppi++"


@dataclass(frozen=True)
class CombinedRequest:
    """`humans`: human labels (any judge-quality format, `format` forces one); `judge_labels`: one judge's
    labels on the items the estimate is about, or `judge` (NAME[@MODEL]) run on every pair of `items`
    with the judge-call settings of `calls` (a judge-quality request: model, endpoint, samples, budget,
    store); `level`: the interval's level."""

    humans: str
    judge_labels: str | None = None
    format: str | None = None
    level: float = 0.95
    judge: str | None = None
    items: str | None = None
    calls: JudgeQualityRequest | None = None

    def check(self) -> None:
        """Everything refusable before a file is read or a judge is asked."""
        check_level(self.level)
        if (self.judge_labels is None) == (self.judge is None):
            raise EvalkitError("give the judge's labels as --judge-labels FILE, or run one with --judge NAME (not both)")
        if self.judge is not None and self.items is None:
            raise EvalkitError(
                "--judge NAME runs the judge on --items FILE: the pairs the estimate is about (the humans may label a subset)"
            )
        if self.judge is None and self.items is not None:
            raise EvalkitError("--items is the set a --judge NAME runs on; with --judge-labels the judge's file is the item set")


@dataclass(frozen=True)
class CombinedWinRate:
    """The PPI++ estimate and interval, lambda, and the classical interval from the human items alone."""

    estimate: float
    ci_low: float
    ci_high: float
    level: float
    n_humans: int
    n_judge: int
    lam: float
    human_only_estimate: float
    human_only_ci_low: float
    human_only_ci_high: float
    effective_n_humans: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "level": self.level,
            "n_humans": self.n_humans,
            "n_judge": self.n_judge,
            "method": METHOD,
            "lambda": self.lam,
            "human_only": {
                "estimate": self.human_only_estimate,
                "ci_low": self.human_only_ci_low,
                "ci_high": self.human_only_ci_high,
            },
            "effective_n_humans": self.effective_n_humans,
        }


def check_level(level: float) -> None:
    if not 0 < level < 1:
        raise EvalkitError(f"--level must be in (0, 1), got {level}")


def _preference_by_item(labels: pd.DataFrame) -> pd.Series:
    """Each item's mean preference for A over its valid labels (an invalid label, None, is left out)."""
    valid = labels[labels["label"].isin(VERDICTS)]
    return valid["label"].map(SHARE_OF_A).astype(float).groupby(valid["item"]).mean()


def combined_win_rate(request: CombinedRequest) -> CombinedWinRate:
    """Read both files, put the humans' labels on the judge's items, and estimate by PPI++."""
    import pandas as pd

    from evalkit.data.human_labels import read_labelled_pairs
    from evalkit.judge_eval.align import judges_from_file
    from evalkit.stats.prediction_powered import prediction_powered_mean

    request.check()
    humans = read_labelled_pairs(request.humans, request.format)
    judge = _judge_labels(request) if request.judge else read_labelled_pairs(str(request.judge_labels))
    raters = judge.labels["rater"].dropna().unique()
    if judge.explicit_raters and len(raters) > 1:
        raise EvalkitError(f"{judge.path}: labels of {len(raters)} raters; give one judge's labels (one file per judge)")
    try:
        on_judge_items = judges_from_file(humans, judge)
    except EvalkitError:
        raise EvalkitError(
            f"{humans.path} and {judge.path} share no item (matched by id, or by instruction and answers)"
        ) from None
    judged = _preference_by_item(judge.labels)
    human = _preference_by_item(pd.concat([part.verdicts for part in on_judge_items], ignore_index=True))
    human = human[human.index.isin(judged.index)]
    if len(human) < 2:
        raise EvalkitError(
            f"{humans.path}: {len(human)} item(s) with a valid human label among the judge's labelled items; need at least 2"
        )
    result = prediction_powered_mean(human.to_numpy(), judged.loc[human.index].to_numpy(), judged.to_numpy(), request.level)
    return CombinedWinRate(
        estimate=result.combined.estimate,
        ci_low=result.combined.low,
        ci_high=result.combined.high,
        level=request.level,
        n_humans=len(human),
        n_judge=len(judged),
        lam=result.lam,
        human_only_estimate=result.human_only.estimate,
        human_only_ci_low=result.human_only.low,
        human_only_ci_high=result.human_only.high,
        effective_n_humans=result.effective_n_humans,
    )


def _judge_labels(request: CombinedRequest) -> LabelledPairs:
    """Run the one judge on every pair of the items file; its verdicts as that file's labels (one rater),
    so they are matched with the humans exactly as a judge's file would be."""
    from dataclasses import replace

    from evalkit.data.human_labels import LabelledPairs, read_labelled_pairs
    from evalkit.jobs.judge_quality import JudgeQualityRequest, run_judges_on_pairs

    assert request.judge is not None and request.items is not None  # request.check()
    items = read_labelled_pairs(request.items)
    calls = replace(request.calls or JudgeQualityRequest(), judges=(request.judge,))
    (verdicts,) = run_judges_on_pairs(calls, items)
    labels = verdicts.verdicts.assign(rater=verdicts.name)[["item", "rater", "label", "cost_usd", "seconds"]]
    return LabelledPairs(f"{request.judge} on {request.items}", items.format, items.pairs, labels, True, items.aliases)
