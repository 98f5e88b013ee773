"""Which optional install (pyproject's extras) a piece of work needs, checked before the work starts.

The base install (`pip install evalkit`) judges, computes statistics, browses, reports and picks on a
store that already holds answers; generating, training, scaling out and PostgreSQL each need an extra.
A command that reaches for one that is missing says which, in one line (exit 2), instead of failing
deep inside an import. `importlib.util.find_spec` finds a package without importing it, so the check
costs nothing when the extra is there.
"""

from __future__ import annotations

import importlib.util

from evalkit.core.errors import EvalkitError

# extra -> the top-level modules that must be importable for it (pyproject.toml's optional-dependencies)
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "hf": ("torch", "transformers"),
    "train": ("torch", "transformers", "trl", "datasets"),
    "vllm": ("torch", "vllm"),
    "ray": ("ray",),
    "postgres": ("psycopg",),
    "serving": ("torch", "transformers"),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that are not installed (empty when it is all there)."""
    return [module for module in EXTRA_MODULES[extra] if importlib.util.find_spec(module) is None]


def require_extra(extra: str, needed_for: str) -> None:
    """Raise the one-line error naming the extra when any of its modules is missing."""
    missing = missing_modules(extra)
    if missing:
        raise EvalkitError(
            f"{needed_for} needs the [{extra}] extra ({', '.join(missing)} not installed): pip install 'evalkit[{extra}]'"
        )


# the generation backends that run a model in this process, and the extra each needs; the others
# (openai, and vllm-server, which starts `vllm serve` and so needs vllm too) are listed where they differ
BACKEND_EXTRAS: dict[str, str] = {"transformers": "hf", "vllm": "vllm", "vllm-server": "vllm"}


def require_backend(backend: str, needed_for: str) -> None:
    """A generation backend's extra (none for an OpenAI-compatible server someone else runs)."""
    extra = BACKEND_EXTRAS.get(backend)
    if extra is not None:
        require_extra(extra, f"{needed_for} --backend {backend}")
