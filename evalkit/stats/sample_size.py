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

DEFAULT_POWER = 0.8


def prompts_to_separate(difference: float, sd: float, level: float = 0.95, power: float = DEFAULT_POWER) -> int | None:
    """Prompts needed (in all, not more) to tell the difference from 0; None when no number would
    (an observed difference of 0) or the inputs are not numbers."""
    from scipy.stats import norm

    if not (math.isfinite(difference) and math.isfinite(sd)) or difference == 0 or sd < 0:
        return None
    z = float(norm.ppf(1 - (1 - level) / 2) + norm.ppf(power))
    return max(2, math.ceil((z * sd / abs(difference)) ** 2))  # a standard deviation needs two prompts
