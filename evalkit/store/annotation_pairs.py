"""The texts of annotation items as the annotators saw them, for judge-quality inputs."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import select

from evalkit.store import schema as t
from evalkit.store.store import Store


def item_texts(store: Store, item_ids: Sequence[int]) -> pd.DataFrame:
    """Columns id, order (the shown order, "AB": the model's answer first), instruction, model_text,
    baseline_text of these annotation items."""
    i, p = t.annotation_items, t.prompts
    ours, theirs = t.generations.alias("ours"), t.generations.alias("theirs")
    query = (
        select(i.c.id, i.c.order, p.c.instruction, ours.c.text.label("model_text"), theirs.c.text.label("baseline_text"))
        .join(p, p.c.hash == i.c.prompt_hash)
        .join(ours, ours.c.id == i.c.generation_a)
        .join(theirs, theirs.c.id == i.c.generation_b)
        .where(i.c.id.in_(list(item_ids)))
    )
    return store.frame(query)
