"""SFT for evalkit (ships as `evalkit.train`): dialogs -> masks -> transformers Trainer -> OUT/epoch-N/.

Entry points: `evalkit train` (evalkit/cli/commands/train.py) and `evalkit.train.engine.run_training`.
Importing this package is cheap; torch and transformers load only when training starts.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def demo_dialogs_path() -> Path:
    """The curated dialog set the offline demo trains on (train/data/demo_dialogs.jsonl, package data)."""
    return Path(str(resources.files("evalkit.train").joinpath("data", "demo_dialogs.jsonl")))
