"""Ray worker setup hook for the scale-out tests (runs in every Ray worker process, never in the driver).

A transformers generator whose checkpoint directory holds a KILL_ONCE file removes the file and kills
its own worker process (os._exit, no cleanup, as SIGKILL or a lost node would) right after its first
batch was handed on: Ray must re-run the task, and the store must end with every row exactly once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

KILL_ONCE = "KILL_ONCE"


def _claim(marker: Path) -> bool:
    """True for exactly one caller: unlink is atomic, so a retried task finds the marker gone."""
    try:
        marker.unlink()
    except FileNotFoundError:
        return False
    return True


def kill_once_hook() -> None:
    from evalkit.generate.transformers_backend import TransformersGenerator

    original_init, original_generate = TransformersGenerator.__init__, TransformersGenerator.generate

    def __init__(self: Any, path: Path, *args: Any, **kwargs: Any) -> None:
        original_init(self, path, *args, **kwargs)
        self.kill_marker = Path(path) / KILL_ONCE

    def generate(self: Any, requests: Any, decoding: Any) -> Iterator[Any]:
        for index, batch in enumerate(original_generate(self, requests, decoding)):
            yield batch
            if index == 0 and _claim(self.kill_marker):
                os._exit(1)

    TransformersGenerator.__init__ = __init__  # type: ignore[method-assign]
    TransformersGenerator.generate = generate  # type: ignore[method-assign]
