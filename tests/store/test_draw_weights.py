"""Annotation items' draw weights (schema version 4): an older store reads without them and gains them
when a writer opens it; a drawn batch stores and reads them back."""

from __future__ import annotations

import pytest

from bench.leaderboard_data import populate
from evalkit.core.errors import EvalkitError
from evalkit.store import Store
from evalkit.store import annotations as ann
from tests.v3_store import check_v3_store_is_read_then_upgraded


def test_a_version_3_store_is_read_as_it_is_and_upgraded_by_a_writer(db_url: str) -> None:
    check_v3_store_is_read_then_upgraded(db_url)


def test_a_plain_batch_has_no_draw_probabilities_and_a_drawn_prompt_must_be_answered(db_url: str) -> None:
    store = Store(db_url)
    data = populate(store, runs=1, epochs=1, prompts=4, with_decisions=False)
    model, baseline = store.model_id(data.checkpoints[0]), store.model_id(data.baselines[0])
    batch, _ = ann.create_batch(store, "plain", model, baseline, "bench", per_item=1, limit=3)
    assert [(d.probability, d.draws) for d in ann.batch_draws(store, batch)] == [(None, 1)] * 3
    with pytest.raises(EvalkitError, match="lack an answer"):
        ann.create_batch(store, "bad", model, baseline, "bench", per_item=1, drawn=[ann.DrawnPrompt("f" * 64, 1, 0.5)])
