"""Which prompts a pairwise annotation batch shows (`evalkit annotate create --select`).

- "first" (the default): the first `limit` shared prompts of the set, as before.
- "random": a seeded simple random sample of `limit` shared prompts, without replacement; every item
  equally likely, so PPI++ (evalkit.stats.prediction_powered) estimates from its labels as they are.
- "informative": `limit` seeded draws with replacement, each prompt drawn with a probability that grows
  with the judges' uncertainty about it (evalkit.stats.active_inference); each item stores its draw
  probability and draws so the estimate from its labels is reweighted and stays unbiased
  (`active_mean`). Labelling the uncertain items outright would bias the estimate instead.

A prompt's uncertainty is read from the judgments already stored for this model against this baseline
(both generation sets): per judge, its preference for the model averaged over the two shown orders,
p in [0, 1], gives 1 - |2p - 1| (1: orders disagree, both call it a tie, or a soft preference near a
half; 0: both orders agree with confidence); judges are averaged; a prompt nobody judged gets 1/2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import sha256_text
from evalkit.core.vocabulary import PREFERENCE
from evalkit.decision.evidence import stored_record
from evalkit.stats.active_inference import DEFAULT_EPS, draw_items, sampling_probabilities
from evalkit.store.annotations import DrawnPrompt, shared_prompts
from evalkit.store.store import Store

if TYPE_CHECKING:
    import pandas as pd

Method = Literal["first", "random", "informative"]
METHODS: tuple[Method, ...] = ("first", "random", "informative")
UNJUDGED = 0.5  # a prompt without a judgment: neither sure nor unsure
_LOSS = PREFERENCE["loss"]  # the preference scale's floor: preference - _LOSS is the model's share


@dataclass(frozen=True)
class Selection:
    """The prompts a batch shows, in batch order. `drawn`: with their draw weights (informative: per-draw
    probability and draws; random: probability None, one draw each); None for "first" (the batch takes
    the first `limit` shared prompts itself). `note`: one line for stderr, or None."""

    method: Method
    drawn: tuple[DrawnPrompt, ...] | None
    n_population: int  # the shared prompts the items were chosen among: N of the estimator
    n_judged: int  # of those, prompts with a judgment (the uncertainty is read from them)
    note: str | None


def seed_of(name: str, seed: int | None) -> int:
    """The batch's seed: the given one, else one derived from its name (as the A/B order's)."""
    return seed if seed is not None else int(sha256_text(name)[:12], 16)


def model_share(comparisons: pd.DataFrame) -> pd.Series:
    """Each comparison row's preference for the model in [0, 1], averaged over its shown orders where a
    judge gives one verdict per order; NaN when no order was readable."""
    import pandas as pd

    per_order = [
        comparisons[column].map(PREFERENCE).astype(float) - _LOSS
        for column in ("verdict_ab", "verdict_ba")
        if column in comparisons
    ]
    orders = pd.concat(per_order, axis=1).mean(axis=1) if per_order else pd.Series(np.nan, index=comparisons.index)
    soft = comparisons["preference"].astype(float) - _LOSS  # one continuous preference (AlpacaEval's weighted)
    return orders.where(orders.notna(), soft)


def uncertainty_scores(comparisons: pd.DataFrame, prompt_hashes: Sequence[str]) -> np.ndarray:
    """Per prompt (in the order given): 1 - |2p - 1| averaged over the judges' rows of that prompt,
    UNJUDGED where it has none. `comparisons`: rows of one model against one baseline."""
    share = model_share(comparisons)
    per_row = (1 - (2 * share - 1).abs()).rename("u")
    by_prompt = per_row.groupby(comparisons["prompt_hash"]).mean().dropna()
    return np.array([float(by_prompt.get(h, UNJUDGED)) for h in prompt_hashes])


def pair_comparisons(store: Store, model_id: int, baseline_id: int, model_decoding: str, baseline_decoding: str) -> pd.DataFrame:
    """The stored comparison rows (every judge that compares) of this generation set against that one."""
    from evalkit.results.tables import read_tables

    frame = read_tables(store, instructions=False).comparisons
    mine = (
        (frame["model_id"] == model_id)
        & (frame["baseline_id"] == baseline_id)
        & (frame["decoding"] == model_decoding)
        & (frame["baseline_decoding"] == baseline_decoding)
    )
    return frame[mine]


def contention_note(store: Store, model_id: int) -> str | None:
    """One line when the latest stored pick that compared this model found it significantly worse than
    the checkpoint it chose: labels of this model barely move that pick."""
    decisions = store.decisions()
    for _, decision in decisions.iloc[::-1].iterrows():
        record = stored_record(decision["evidence"])
        rows = [row for row in record.get("evidence", []) if isinstance(row, dict) and row.get("model_id") == model_id]
        if not rows:
            continue
        if rows[0].get("tied_with_best", True) or decision["chosen_model_id"] == model_id:
            return None
        return (
            f"note: the latest pick ({decision['run']}) found {rows[0].get('name')} significantly worse than "
            f"{decision['chosen_name']}; labels of this model barely move that pick"
        )
    return None


def select_prompts(
    store: Store,
    model_id: int,
    baseline_id: int,
    prompt_set: str,
    method: Method,
    limit: int | None,
    seed: int,
    eps: float = DEFAULT_EPS,
) -> Selection:
    """The batch's prompts by `method` (see the module's docstring); `limit` is K, required unless
    method is "first"."""
    shared = shared_prompts(store, model_id, baseline_id, prompt_set)
    population = list(shared.hashes)
    if not population:
        raise EvalkitError(f"the two models have no answers in common on prompt set {prompt_set!r}; generate them first")
    if method == "first":
        return Selection(method, None, len(population), 0, None)
    if limit is None:
        raise ValueError("random and informative selections need a limit")
    if method == "random":
        rng = np.random.default_rng(seed)
        # in drawn order: annotators walk a batch in order, so a batch labelled part-way is still a sample
        picked = rng.choice(len(population), size=min(limit, len(population)), replace=False)
        return Selection(method, tuple(DrawnPrompt(population[i], 1, None) for i in picked), len(population), 0, None)
    comparisons = pair_comparisons(store, model_id, baseline_id, shared.model_decoding, shared.baseline_decoding)
    n_judged = len(set(comparisons["prompt_hash"]) & set(population))
    probabilities = sampling_probabilities(uncertainty_scores(comparisons, population), eps)
    drawn = draw_items(probabilities, limit, seed)
    # shuffled, for the same reason as a random batch: the first items labelled are not the set's first
    order = np.random.default_rng(seed).permutation(drawn.items.size)
    chosen = tuple(
        DrawnPrompt(population[int(drawn.items[j])], int(drawn.draws[j]), float(probabilities[int(drawn.items[j])]))
        for j in order
    )
    return Selection(method, chosen, len(population), n_judged, contention_note(store, model_id))
