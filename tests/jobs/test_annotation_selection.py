"""Which prompts `annotate create --select` picks: uncertainty from stored judgments, seeded random and
informative selections over the prompts both models answered, and the note for a checkpoint out of
contention."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.leaderboard_data import populate
from evalkit.core.records import Decision
from evalkit.jobs.annotation_selection import contention_note, pair_comparisons, select_prompts, uncertainty_scores
from evalkit.store import Store
from evalkit.store.annotations import shared_prompts

NAN = float("nan")


def test_uncertainty_is_high_where_orders_disagree_or_margins_are_small() -> None:
    comparisons = pd.DataFrame(
        {
            "prompt_hash": ["sure", "split", "ties", "half", "soft", "soft", "broken"],
            "verdict_ab": ["win", "win", "tie", "win", None, None, None],
            "verdict_ba": ["win", "loss", "tie", "tie", None, None, None],
            # pairwise rows carry their combined preference; a soft judge (AlpacaEval weighted) only this
            "preference": [2.0, 1.5, 1.5, 1.5, 1.9, 1.3, NAN],
        }
    )
    scores = uncertainty_scores(comparisons, ["sure", "split", "ties", "half", "soft", "broken", "unjudged"])
    # soft: mean of 1 - |2 * 0.9 - 1| = 0.2 and 1 - |2 * 0.3 - 1| = 0.6; broken and unjudged: 1/2
    assert scores == pytest.approx([0.0, 1.0, 1.0, 0.5, 0.4, 0.5, 0.5])


@pytest.fixture()
def populated(db_url: str) -> tuple[Store, int, int]:
    store = Store(db_url)
    data = populate(store, runs=1, epochs=1, prompts=60, with_decisions=False)
    return store, store.model_id(data.checkpoints[0]), store.model_id(data.baselines[0])


def test_random_selection_is_a_seeded_sample_without_weights(populated: tuple[Store, int, int]) -> None:
    store, model, baseline = populated
    first = select_prompts(store, model, baseline, "bench", "random", 20, seed=5)
    assert first.drawn is not None and first.n_population == 60
    assert len({d.prompt_hash for d in first.drawn}) == 20
    assert all(d.probability is None and d.draws == 1 for d in first.drawn)
    again = select_prompts(store, model, baseline, "bench", "random", 20, seed=5)
    assert again.drawn == first.drawn
    assert select_prompts(store, model, baseline, "bench", "random", 20, seed=6).drawn != first.drawn


def test_informative_selection_draws_uncertain_prompts_with_their_weights(populated: tuple[Store, int, int]) -> None:
    store, model, baseline = populated
    selection = select_prompts(store, model, baseline, "bench", "informative", 30, seed=1)
    assert selection.drawn is not None and selection.n_judged == 60
    assert sum(d.draws for d in selection.drawn) == 30
    shared = shared_prompts(store, model, baseline, "bench")
    scores = dict(
        zip(
            shared.hashes,
            uncertainty_scores(
                pair_comparisons(store, model, baseline, shared.model_decoding, shared.baseline_decoding), shared.hashes
            ),
        )
    )
    u = np.array(list(scores.values()))
    for d in selection.drawn:  # p = 0.9 u / sum(u) + 0.1 / N
        assert d.probability == pytest.approx(0.9 * scores[d.prompt_hash] / u.sum() + 0.1 / 60)
    drawn_u = np.average([scores[d.prompt_hash] for d in selection.drawn], weights=[d.draws for d in selection.drawn])
    assert drawn_u > u.mean()
    assert select_prompts(store, model, baseline, "bench", "informative", 30, seed=1) == selection


def test_a_checkpoint_found_significantly_worse_gets_a_note(populated: tuple[Store, int, int]) -> None:
    store, model, baseline = populated
    assert contention_note(store, model) is None  # no pick yet
    evidence = {"evidence": [{"model_id": baseline, "name": "best", "tied_with_best": True}]}
    store.add_decision(Decision("run-x", "best", 2, "policy", evidence), baseline)
    assert contention_note(store, model) is None  # the pick did not compare this model
    evidence["evidence"].append({"model_id": model, "name": "epoch-1", "tied_with_best": False})
    store.add_decision(Decision("run-x", "best", 2, "policy", evidence), baseline)
    note = contention_note(store, model)
    assert note is not None and "significantly worse than best" in note and "\n" not in note
