"""A small demo's store (train 3 epochs, evaluate, pick), built once for the report's tests, and its report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import needs_engine
from tests.helpers import run_cli


@dataclass(frozen=True)
class DemoReport:
    decision: dict[str, Any]  # what `evalkit demo --json` prints: the pick record, the trend, the store's URL
    run_dir: Path
    out: Path  # the report of the demo's store
    stdout: str  # what `evalkit report` printed


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> DemoReport:
    needs_engine()  # the demo trains a tiny model
    from evalkit.jobs.demo import DemoSettings, run_demo

    work = tmp_path_factory.mktemp("report_demo")
    settings = DemoSettings(
        out=work, epochs=3, window=(2, 3), hidden_size=32, layers=2, vocab_size=512, max_new_tokens=12, dialogs_limit=24
    )
    decision = run_demo(settings, log=lambda *_: None)
    out = work / "report"
    result = run_cli("report", "--db", decision["db_url"], "--out", str(out))
    assert result.returncode == 0, result.stderr
    return DemoReport(decision=decision, run_dir=work / "ckpt", out=out, stdout=result.stdout)
