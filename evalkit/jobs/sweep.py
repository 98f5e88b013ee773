"""The sweep job (`evalkit sweep`): a data-ablation grid trained, evaluated and ranked
(datarecipes.sweep.run_sweep), its baseline checked before the store is created."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.datarecipes.sweep import SweepRequest


@dataclass(frozen=True)
class SweepResult:
    """The sweep's id, one record per cell (size, proportion, win rate and its interval, trained or not)
    and the best cell against the runner-up; `as_dict()` is what `evalkit sweep --json` prints."""

    record: Mapping[str, Any]

    @property
    def sweep(self) -> str:
        return str(self.record["sweep"])

    @property
    def cells(self) -> list[dict[str, Any]]:
        return list(self.record["cells"])

    @property
    def best(self) -> dict[str, Any]:
        return dict(self.record["best"])

    def as_dict(self) -> dict[str, Any]:
        return dict(self.record)


def sweep(request: SweepRequest, db: str | None = None) -> SweepResult:
    from evalkit.core.settings import db_url
    from evalkit.datarecipes.sweep import run_sweep
    from evalkit.jobs.preflight import check_baseline
    from evalkit.store import Store

    url = db_url(db)
    check_baseline(request.config.baseline, url)  # a typo is said before the store is created
    return SweepResult(MappingProxyType(run_sweep(Store(url), request)))
