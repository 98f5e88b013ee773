"""The decoding configurations a store holds, each with the label people read (a generation set is a
model plus the decoding hash of its answers; labels: evalkit.core.decoding_labels)."""

from __future__ import annotations

import pandas as pd

from evalkit.core.decoding_labels import decoding_label
from evalkit.store.generation_sets import stored_decodings
from evalkit.store.store import Store


def decodings(store: Store) -> pd.DataFrame:
    """Every decoding configuration in the store: decoding (hash), params, label."""
    stored = stored_decodings(store)
    return pd.DataFrame(
        {
            "decoding": [row.decoding_hash for row in stored],
            "params": [dict(row.params or {}) for row in stored],
            "label": [decoding_label(row.params) for row in stored],
        },
        columns=["decoding", "params", "label"],
    )
