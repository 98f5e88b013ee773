"""The judge-quality job (`evalkit judge-quality`): each judge scored against the humans' labels (from a
file, or the store's annotation batches), next to how far the humans agree with each other."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError
from evalkit.jobs.local_judge import JudgeServerSettings, served_judge

if TYPE_CHECKING:
    from evalkit.data.human_labels import LabelledPairs
    from evalkit.judge_eval.align import JudgeVerdicts


@dataclass(frozen=True)
class JudgeQualityRequest:
    """Human labels (`humans` file, else the store's `batch` or every batch); judges as files of verdicts
    (`judge_labels`) or run on the pairs (`judges`: NAME[@MODEL]); the bootstrap; `save` keeps the report."""

    humans: str | None = None
    format: str | None = None
    batch: str | None = None
    judge_labels: tuple[str, ...] = ()
    judges: tuple[str, ...] = ()
    judge_model: str | None = None
    judge_base_url: str | None = None
    samples: int = 1
    judge_temperature: float | None = None
    max_tokens: int | None = None
    concurrency: int = 16
    timeout: float = 120.0
    max_cost: float | None = None
    prices: str | None = None
    progress: bool | None = None  # None: when stderr is a terminal
    resamples: int = 10_000
    level: float = 0.95
    seed: int = 0
    save: str | None = None
    db: str | None = None
    server: JudgeServerSettings = field(default_factory=JudgeServerSettings)


@dataclass(frozen=True)
class JudgeQualityReport:
    """The report: `humans` (their agreement with each other), one entry per judge, the item count and
    the labels' source; `as_dict()` is what `evalkit judge-quality --json` prints and `save` stores."""

    record: Mapping[str, Any]

    @property
    def items(self) -> int:
        return int(self.record["items"])

    @property
    def judges(self) -> list[dict[str, Any]]:
        return list(self.record["judges"])

    def as_dict(self) -> dict[str, Any]:
        return dict(self.record)


def judge_quality(request: JudgeQualityRequest) -> JudgeQualityReport:
    """Check the request, gather (or run) the judges' verdicts, score them, and save the report if asked."""
    from evalkit.judge_eval.report import build_report

    if request.resamples < 0 or not 0 < request.level < 1 or request.samples < 1:
        raise EvalkitError("--resamples must be >= 0, --level in (0, 1) and --samples >= 1")
    if request.server.judge_checkpoint and not request.judges:
        raise EvalkitError("--judge-checkpoint serves a judge for --judge NAME entries; add --judge pairwise (or alpaca_eval)")
    if request.humans:
        from evalkit.data.human_labels import read_labelled_pairs

        humans = read_labelled_pairs(request.humans, request.format)
        judges = _file_judges(request, humans) + (run_judges_on_pairs(request, humans) if request.judges else [])
    else:
        if request.judges or request.judge_labels or request.server.judge_checkpoint:
            raise EvalkitError(
                "--judge and --judge-labels need the human labels as a file: add --humans FILE "
                "(from the store, judges are those already run on the batch's pairs: `evalkit judge`)"
            )
        from evalkit.core.settings import db_url
        from evalkit.judge_eval.store_source import store_judge_quality
        from evalkit.store import Store

        humans, judges = store_judge_quality(Store(db_url(request.db), read_only=True), request.batch)
    if not judges:
        raise EvalkitError("no judge to score: add --judge-labels FILE or --judge NAME")
    _unique_names(judges)
    try:
        report = build_report(
            humans.labels,
            humans.pairs,
            judges,
            source=humans.path,
            n_resamples=request.resamples,
            level=request.level,
            seed=request.seed,
        )
    except ValueError as exc:  # e.g. a human labelled one item twice
        raise EvalkitError(f"{humans.path}: {exc}") from None
    if request.save:
        from evalkit.core.settings import db_url
        from evalkit.judge_eval.saved import save_report
        from evalkit.store import Store

        save_report(Store(db_url(request.db)), request.save, report)
    return JudgeQualityReport(MappingProxyType(report))


def _unique_names(judges: list[JudgeVerdicts]) -> None:
    """Two files naming their judge alike get the file name added, so every row is told apart."""
    counts: dict[str, int] = {}
    for judge in judges:
        counts[judge.name] = counts.get(judge.name, 0) + 1
    for judge in judges:
        if counts[judge.name] > 1 and "source" in judge.details:
            judge.name = f"{judge.name} ({Path(judge.details['source']).name})"


def _file_judges(request: JudgeQualityRequest, humans: LabelledPairs) -> list[JudgeVerdicts]:
    from evalkit.data.human_labels import read_labelled_pairs
    from evalkit.judge_eval.align import judges_from_file

    found = []
    for path in request.judge_labels:
        found.extend(judges_from_file(read_labelled_pairs(path), humans))
    return found


def run_judges_on_pairs(request: JudgeQualityRequest, pairs: LabelledPairs) -> list[JudgeVerdicts]:
    """Run `request.judges` on every pair of `pairs` with the request's judge-call settings (model, endpoint,
    samples, budget, served checkpoint; its label fields are not read): `judge-quality --judge` on the
    humans' pairs, `stats combined --judge` on the items the estimate is about."""
    from evalkit.core.settings import db_url
    from evalkit.judge_eval.running import run_judges, run_options
    from evalkit.judges.registry import sampling_temperature
    from evalkit.store import Store

    options = run_options(
        base_url=request.judge_base_url,
        concurrency=request.concurrency,
        timeout_s=request.timeout,
        max_cost=request.max_cost,
        prices=request.prices,
        progress=request.progress if request.progress is not None else sys.stderr.isatty(),
    )
    temperature = sampling_temperature(request.judge_temperature, request.samples)
    with served_judge(request.server) as served:
        return run_judges(
            Store(db_url(request.db)),
            pairs,
            request.judges,
            judge_model=request.judge_model,
            samples=request.samples,
            temperature=temperature,
            max_tokens=request.max_tokens,
            options=replace(options, served=served),
        )
