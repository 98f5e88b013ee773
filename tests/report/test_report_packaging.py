"""The report's page, script and style are files beside its modules: the wheel must carry them."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import tomllib

from evalkit.report.render import ASSETS

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_carries_the_report_and_its_assets() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "evalkit.report" in setuptools["packages"]
    patterns = setuptools.get("package-data", {}).get("evalkit.report", [])
    for name in ASSETS:
        assert (ROOT / "evalkit" / "report" / "assets" / name).is_file()
        assert any(fnmatch.fnmatch(f"assets/{name}", pattern) for pattern in patterns), (name, patterns)
