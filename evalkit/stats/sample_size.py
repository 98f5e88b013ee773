"""How many prompts would separate two checkpoints at the difference observed between them?

The standard sample size of a two-sided test of a paired mean difference (normal approximation):

    n = ceil( ((z_{1 - alpha/2} + z_{power}) * sd / |difference|)^2 )

where `difference` is the observed mean per-prompt difference, `sd` the standard deviation of the
per-prompt differences (the observed standard error times sqrt(n observed)), alpha = 1 - level
(0.05: a 95% interval) and `power` the chance that a study of n prompts excludes 0 if the true
difference is the observed one (0.8, the usual choice). At power 0.5 this is the n at which the
observed difference would just reach the interval's edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_POWER = 0.8


def prompts_to_separate(difference: float, sd: float, level: float = 0.95, power: float = DEFAULT_POWER) -> int | None:
    """Prompts needed (in all, not more) to tell the difference from 0; None when no number would
    (an observed difference of 0) or the inputs are not numbers."""
    from scipy.stats import norm

    if not (math.isfinite(difference) and math.isfinite(sd)) or difference == 0 or sd < 0:
        return None
    z = float(norm.ppf(1 - (1 - level) / 2) + norm.ppf(power))
    return max(2, math.ceil((z * sd / abs(difference)) ** 2))  # a standard deviation needs two prompts


@dataclass(frozen=True)
class SeparationGuidance:
    """How many prompts a paired comparison would need to separate its two sides with `power`, against
    the `n` it has: `prompts_needed` in all, `more_prompts` beyond `n` (0 when `n` already reaches
    it); both None, with `reason` saying why, when no number would."""

    difference: float
    sd: float
    n: int
    prompts_needed: int | None
    more_prompts: int | None
    power: float
    level: float
    reason: str | None = None


def separation_guidance(
    difference: float, sd: float, n: int, level: float = 0.95, power: float = DEFAULT_POWER
) -> SeparationGuidance:
    """`prompts_to_separate` at the observed `difference` and `sd` of a comparison over `n` prompts,
    with what is still missing."""
    needed = prompts_to_separate(difference, sd, level, power)
    return SeparationGuidance(
        difference=difference,
        sd=sd,
        n=n,
        prompts_needed=needed,
        more_prompts=None if needed is None else max(0, needed - n),
        power=power,
        level=level,
        reason=None if needed is not None else _why_no_number(difference),
    )


def _why_no_number(difference: float) -> str:
    if not math.isfinite(difference):
        return "no prompt was validly judged for both: no difference to size from"
    if difference == 0:
        return "the observed difference is 0: no number of prompts would separate them"
    return "fewer than two shared prompts: no spread of the per-prompt differences to size from"
