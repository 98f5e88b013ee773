"""When to stop judging a checkpoint (`--stop-when-decided`): the pure rule, applied after each round.

The prompts are judged in a seeded random order (`seeded_order`), in rounds: every checkpoint still
being judged gets the same growing prefix of that order. After a round, `review_round` looks at the
headline judge's per-prompt preference units (1 = the checkpoint beat the baseline, 1/2 tie, 0 loss;
NaN = not judged or invalid) and stops a checkpoint when

1. its comparison with the current best is decided against it: over the prompts both have, in the
   seeded order, the paired stream d_i = (u_checkpoint - u_best + 1) / 2 in [0, 1] is followed by the
   betting confidence sequence of stats/confidence_sequence.py, and the sequence has excluded 1/2
   with every value left below it; or
2. it cannot reach the best any more: even winning every prompt it has not been judged on, its final
   win rate would stay below the best's final win rate with the best losing every one of its own
   (a deterministic bound, no error rate).

The best (the highest win rate on judged prompts among the checkpoints still judged) keeps being
judged while any other is; once every other has stopped, it stops too.

Why looking after every round is valid: a confidence sequence is anytime-valid. At the true mean its
capital is a non-negative martingale, so by Ville's inequality the probability that it EVER excludes
the truth, at any of the times it could be looked at, is at most its alpha. Checking it after each
round (even after each judgment) and stopping at the first exclusion therefore keeps the error rate,
which a fixed-sample test checked repeatedly would not.

The caveat of a switching best: the "current best" is re-chosen each round, so over a run a checkpoint
may be compared with several. Each unordered pair of checkpoints has one stream (the pair's d in the
seeded order; swapping the two gives 1 - d, which the symmetric hedged sequence treats alike), so the
level is split by Bonferroni over every pair, alpha / (K (K - 1) / 2) for K checkpoints, not only over
the K - 1 comparisons with one fixed best: then, with probability at least 1 - alpha, no sequence of
any pair ever excludes the truth, whichever best each round happens to choose, and no checkpoint is
stopped as worse than one it is in fact at least as good as. The rule only stops losers; the final pick
is still the pick policy's, over whatever was judged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from evalkit.stats.confidence_sequence import NULL_MEAN, first_exclusion, running_intervals

DECIDED = "decided below the best"
CANNOT_REACH = "cannot reach the best"
BEST = "best: every other checkpoint stopped"


def seeded_order(prompt_hashes: Iterable[str], seed: int) -> list[str]:
    """The prompts in a random order fixed by the seed and the prompts themselves (not their position
    in the set), so a re-run, or the same prompts in another file, gets the same order."""
    return sorted(set(prompt_hashes), key=lambda h: hashlib.sha256(f"{seed}:{h}".encode()).hexdigest())


def pair_alpha(alpha: float, checkpoints: int) -> float:
    """The level of each pair's confidence sequence: alpha split over every pair of checkpoints."""
    pairs = checkpoints * (checkpoints - 1) // 2
    return alpha / max(pairs, 1)


def decided_below(d: np.ndarray, alpha: float) -> bool:
    """Whether the confidence sequence of the paired stream `d` has excluded 1/2 with every value left
    below it (the checkpoint is worse than the best)."""
    if d.size == 0:
        return False
    stop = int(first_exclusion(d, alpha))
    if stop == 0:
        return False
    _, high = running_intervals(d[:stop], alpha)
    return bool(high[-1] < NULL_MEAN)


def _cannot_reach(units: np.ndarray, remaining: np.ndarray, checkpoint: int, best: int) -> bool:
    """Even winning every remaining prompt, the checkpoint's final win rate stays below the best's lowest."""
    valid = ~np.isnan(units)
    wins = np.nansum(units, axis=0)
    counted = valid.sum(axis=0)
    highest = (wins[checkpoint] + remaining[checkpoint]) / max(counted[checkpoint] + remaining[checkpoint], 1)
    lowest = wins[best] / max(counted[best] + remaining[best], 1)
    return bool(highest < lowest)


def review_round(units: np.ndarray, judged: np.ndarray, active: np.ndarray, total: int, alpha: float) -> list[str | None]:
    """One review: why each checkpoint stops now (DECIDED, CANNOT_REACH, BEST), None where it goes on
    (or had already stopped). `units`: prompts (in the seeded order) x checkpoints, NaN where not judged
    or invalid; `judged`: prompts each checkpoint was judged on; `active`: still being judged; `total`:
    the prompts of the set; `alpha`: for the whole run (split over pairs here)."""
    checkpoints = units.shape[1]
    reasons: list[str | None] = [None] * checkpoints
    if checkpoints < 2:  # nothing to compare with: judged in full
        return reasons
    valid = ~np.isnan(units)
    counted = valid.sum(axis=0)
    candidates = [c for c in range(checkpoints) if active[c] and counted[c] > 0]
    if not candidates:
        return reasons
    rates = np.nansum(units, axis=0) / np.maximum(counted, 1)
    best = max(candidates, key=lambda c: (rates[c], -c))  # ties: the first (earliest) checkpoint
    level = pair_alpha(alpha, checkpoints)
    remaining = total - np.asarray(judged)
    for c in range(checkpoints):
        if c == best or not active[c]:
            continue
        both = valid[:, c] & valid[:, best]
        d = (units[both, c] - units[both, best] + 1.0) / 2.0
        if decided_below(d, level):
            reasons[c] = DECIDED
        elif _cannot_reach(units, remaining, c, best):
            reasons[c] = CANNOT_REACH
    if not any(active[c] and reasons[c] is None for c in range(checkpoints) if c != best):
        reasons[best] = BEST
    return reasons
