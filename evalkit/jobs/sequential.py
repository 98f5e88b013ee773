"""`evalkit stats sequential`: follow each stream of pairwise labels with an anytime-valid confidence
sequence for the tie-discounted preference of A, and say when (if ever) it was decided."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from evalkit.core.errors import EvalkitError
from evalkit.core.vocabulary import SHARE_OF_A, VERDICTS
from evalkit.files.userfile import UserFile
from evalkit.stats.confidence_sequence import follow

ONE_STREAM = None  # the stream of rows without a "stream" key


@dataclass(frozen=True)
class StreamVerdict:
    stream: Any
    n: int
    decided: bool
    n_used: int
    winner: str | None
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class SequentialResult:
    alpha: float
    streams: tuple[StreamVerdict, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"streams": [asdict(stream) for stream in self.streams]}


def read_streams(path: str) -> dict[Any, list[float]]:
    """Each stream's labels as A's preference, in arrival order; streams in order of first appearance."""
    streams: dict[Any, list[float]] = {}
    with UserFile(path, "labels file") as file:
        for row in file.json_rows():
            if not isinstance(row, dict):
                raise file.error(f"expected a JSON object, got {type(row).__name__}")
            if "label" not in row:
                raise file.error("missing label")
            if not isinstance(row["label"], str) or row["label"] not in VERDICTS:
                raise file.error(f"label must be A, B or tie, got {row['label']!r}")
            stream = row.get("stream", ONE_STREAM)
            if isinstance(stream, (dict, list)):
                raise file.error("stream must be a string or a number")
            streams.setdefault(stream, []).append(SHARE_OF_A[row["label"]])
    if not streams:
        raise EvalkitError(f'labels file {path} has no labels; expected JSONL rows {{"stream", "label"}}')
    return streams


def check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise EvalkitError(f"--alpha must be in (0, 1), got {alpha}")


def sequential(path: str, alpha: float = 0.05) -> SequentialResult:
    """Every stream of the labels file followed until its sequence excludes 0.5 (or to its end)."""
    check_alpha(alpha)
    verdicts = []
    for stream, values in read_streams(path).items():
        outcome = follow(np.array(values), alpha)
        winner = ("A" if outcome.above_null else "B") if outcome.decided else None
        verdicts.append(
            StreamVerdict(stream, outcome.n, outcome.decided, outcome.n_used, winner, outcome.ci_low, outcome.ci_high)
        )
    return SequentialResult(alpha=alpha, streams=tuple(verdicts))
