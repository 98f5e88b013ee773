"""The settings of `--stop-when-decided` (no numpy here: the command line imports them for --help)."""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_ALPHA = 0.05
MIN_ROUND_SIZE = 10


@dataclass(frozen=True)
class StoppingSettings:
    """`--stop-when-decided`: the error rate of the whole run's stops (`alpha`) and the prompts added per
    round (`round_size`; None: a tenth of the prompt set, at least MIN_ROUND_SIZE)."""

    alpha: float = DEFAULT_ALPHA
    round_size: int | None = None

    def size_for(self, prompts: int) -> int:
        return self.round_size or max(MIN_ROUND_SIZE, math.ceil(prompts / 10))
