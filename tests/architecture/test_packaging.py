"""The wheel ships every package: pyproject's explicit package list must name each folder that holds an
__init__.py (an editable install finds a forgotten one anyway, so only an installed wheel would fail)."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_in_the_wheel() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {name: Path(folder) for name, folder in setuptools["package-dir"].items()}

    def folder_of(package: str) -> Path:
        parts = package.split(".")
        for cut in range(len(parts), 0, -1):  # the longest mapped prefix decides where it lives
            prefix = ".".join(parts[:cut])
            if prefix in folders:
                return folders[prefix].joinpath(*parts[cut:])
        return Path(*parts)

    listed = {folder_of(package) for package in setuptools["packages"]}
    found = {init.parent.relative_to(ROOT) for top in folders.values() for init in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set(), f"package folders missing from pyproject's packages: {sorted(map(str, found - listed))}"
    assert listed - found == set(), f"pyproject lists packages that do not exist: {sorted(map(str, listed - found))}"
