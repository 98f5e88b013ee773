"""The per-prompt tallies of the last snapshot, kept on disk beside it, so the next build after a
checkpoint is judged reads only that checkpoint's judgments (evalkit.results.tally_refresh).

They live in the worker process only while it builds (the server never holds them), so between builds
they must be somewhere: a folder of Parquet files next to the snapshot's, in the same cache directory
(never inside the store: the leaderboard only reads the store). Like the snapshot, it is only a cache:
a folder that is missing, of another format or unreadable means "read everything again".
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pandas as pd

from evalkit.files.atomic_directory import directory_replaced
from evalkit.results.tally_refresh import WatermarkedTallies
from evalkit.results.tally_summary import PromptTallies

TALLIES_VERSION = 1  # bump when PromptTallies' frames change: older folders are then read again from the store
FRAMES = [field.name for field in fields(PromptTallies) if field.name not in ("model_names", "kinds")]


def tallies_directory(snapshot_directory: Path) -> Path:
    """Beside the snapshot's folder: saving a snapshot replaces its folder whole."""
    return snapshot_directory.with_name(snapshot_directory.name + ".tallies")


def save_tallies(state: WatermarkedTallies, directory: Path) -> None:
    """Write atomically: a crash mid-write leaves the previous tallies in place."""
    with directory_replaced(directory) as staging:
        for name in FRAMES:
            getattr(state.tallies, name).to_parquet(staging / f"{name}.parquet", index=False)
        state.tallies.model_names.rename("name").rename_axis("id").reset_index().to_parquet(staging / "model_names.parquet")
        meta = {
            "version": TALLIES_VERSION,
            "max_judgment_id": state.max_judgment_id,
            "n_uses": state.n_uses,
            "anchors": list(state.anchors),
            "kinds": {output: list(kinds) for output, kinds in state.tallies.kinds.items()},
        }
        (staging / "meta.json").write_text(json.dumps(meta))


def load_tallies(directory: Path) -> WatermarkedTallies | None:
    """The saved tallies, or None when there are none or they cannot be read."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
        if meta.get("version") != TALLIES_VERSION:
            return None
        frames = {name: pd.read_parquet(directory / f"{name}.parquet") for name in FRAMES}
        names = pd.read_parquet(directory / "model_names.parquet")
        tallies = PromptTallies(
            **frames,
            model_names=names.set_index("id")["name"],
            kinds={str(output): tuple(kinds) for output, kinds in meta["kinds"].items()},
        )
        first, last = meta["anchors"]
        return WatermarkedTallies(tallies, int(meta["max_judgment_id"]), int(meta["n_uses"]), (first, last))
    except (OSError, ValueError, KeyError, TypeError):
        return None
