"""Labelling workers for the per-item cap test (tests/store/test_concurrency_faults.py): separate processes,
each with its own engine, label the same items of one batch, all of them at the same moment per item."""

from __future__ import annotations

import multiprocessing
from typing import Any

from sqlalchemy import select

from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store import schema as t


def make_batch(url: str, items: int, per_item: int) -> int:
    """A pairwise batch of `items` items taking `per_item` labels each."""
    from bench.leaderboard_data import populate

    store = Store(url)
    data = populate(store, runs=1, epochs=1, prompts=items, with_decisions=False)
    model, baseline = store.model_id(data.checkpoints[0]), store.model_id(data.baselines[0])
    batch, _ = ann.create_batch(store, "race", model, baseline, "bench", per_item=per_item)
    store.engine.dispose()
    return batch


def _label_in_step(url: str, batch: int, annotator: str, barrier: Any, results: Any) -> None:
    """Label every item of the batch in batch order (as the Annotate page walks it), waiting for the
    other workers before each item so that all of them write it at once."""
    store = Store(url)
    items = store.frame(
        select(t.annotation_items.c.id).where(t.annotation_items.c.batch_id == batch).order_by(t.annotation_items.c.position)
    )["id"]
    stored = 0
    for item in items:
        barrier.wait(timeout=60)
        stored += ann.add_label(store, annotator, int(item), "A", source=f"test:{annotator}")
    results.put(stored)


def race(url: str, batch: int, workers: int) -> list[int]:
    """Labels each worker process stored."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no engine or lock inherited
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(target=_label_in_step, args=(url, batch, f"worker-{n}", barrier, results)) for n in range(workers)
    ]
    for process in processes:
        process.start()
    stored = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0, f"a labelling worker failed (exit {process.exitcode})"
    return stored
