"""Judgment rows read on demand, filtered by the database to what one page shows.

The snapshot (snapshot.py) holds summaries only: at 5M judgments every row in pandas took ~3.5 GB in
the server. The Compare page needs two models' rows and the Agreement page the judge rows of the
human-labelled answers: a few thousand rows, read through the judgment uses' answer index.
"""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.results.reading import read_judged
from evalkit.results.tables import Tables, known_outputs, tables_of
from evalkit.store import Store
from evalkit.store.result_reads import generation_ids_of


def judged_tables(store: Store, generation_ids: Sequence[int] | None = None) -> Tables:
    """The judge tables without instructions: every row, or only the uses between `generation_ids`'s answers
    (the same rows the full tables hold for those answers)."""
    return tables_of(read_judged(store, generation_ids=generation_ids), known_outputs(store), instructions=False)


def pair_tables(store: Store, model_ids: Sequence[int]) -> Tables:
    """Rows comparing these models with each other (either way round) and their grades."""
    return judged_tables(store, generation_ids_of(store, model_ids))
