"""evalkit: turn a fine-tuning run into a decision (LIMA-style evaluation harness and leaderboard).

The Python API runs the jobs the command line runs and returns typed records (see evalkit/api.py):

    import evalkit

    result = evalkit.run("out/run1", epochs=[5, 6], judges=("reference",))
    decision = evalkit.pick("out/run1")
    print(decision.chosen, decision.reason)

`evalkit.judge(...)`, `evalkit.generate_answers(...)` and `evalkit.demo(...)` likewise. Importing evalkit
stays cheap (`evalkit --help` does it): the API and its heavy libraries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it; loaded on first access (PEP 562).
_LAZY = {
    "run": "evalkit.api",
    "pick": "evalkit.api",
    "judge": "evalkit.api",
    "generate_answers": "evalkit.api",
    "demo": "evalkit.api",
    "DecodingParams": "evalkit.core.records",
    "BackendOptions": "evalkit.generate.factory",
    "EvalkitError": "evalkit.core.errors",
}

__all__ = ["BackendOptions", "DecodingParams", "EvalkitError", "__version__", "demo", "generate_answers", "judge", "pick", "run"]

if TYPE_CHECKING:
    from evalkit.api import demo, generate_answers, judge, pick, run
    from evalkit.core.errors import EvalkitError
    from evalkit.core.records import DecodingParams
    from evalkit.generate.factory import BackendOptions


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
