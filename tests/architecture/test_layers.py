"""The layers of ARCHITECTURE.md hold: no module imports a package of a higher layer, not even inside a
function (a function-level import is still a dependency, only a later one)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# where each importable package's source lives (judges/, leaderboard/ and train/ ship inside evalkit)
SOURCES = {
    "evalkit": ROOT / "evalkit",
    "evalkit.judges": ROOT / "judges",
    "evalkit.leaderboard": ROOT / "leaderboard",
    "evalkit.train": ROOT / "train",
}
# ARCHITECTURE.md's layers, lowest first; a package may import its own layer and those below it
LAYERS: dict[str, int] = {
    "core": 1,
    "files": 1,
    "stats": 2,
    "store": 3,
    "data": 4,
    "models": 4,
    "generate": 4,
    "judges": 4,
    "train": 4,
    "results": 5,
    "decision": 6,
    "jobs": 6,
    "judge_eval": 6,
    "datarecipes": 6,
    "report": 6,  # a surface, but jobs/report.py (layer 6) calls it: a command is a job plus its parsing
    "api": 7,
    "integrations": 7,
    "__main__": 7,
    "cli": 7,
    "leaderboard": 7,
}


def package_of(module: str) -> str | None:
    """`evalkit.store.schema` -> "store"; None for evalkit itself and for other libraries."""
    parts = module.split(".")
    return parts[1] if parts[0] == "evalkit" and len(parts) > 1 else None


def upward_imports(path: Path, module: str) -> list[str]:
    mine = package_of(module)
    if mine not in LAYERS:
        return []
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        for target in targets:
            theirs = package_of(target)
            if theirs in LAYERS and LAYERS[theirs] > LAYERS[mine]:
                found.append(
                    f"{where(path)}:{node.lineno}: {mine} (layer {LAYERS[mine]}) imports {target} (layer {LAYERS[theirs]})"
                )
    return found


def where(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def modules() -> list[tuple[Path, str]]:
    found = []
    for prefix, base in SOURCES.items():
        for path in sorted(base.rglob("*.py")):
            parts = [part for part in path.relative_to(base).with_suffix("").parts if part != "__init__"]
            found.append((path, ".".join([prefix, *parts])))
    return found


def test_every_package_has_a_layer() -> None:
    packages = {package_of(module) for _, module in modules()} - {None}
    assert packages <= set(LAYERS), f"give these packages a layer here and in ARCHITECTURE.md: {sorted(packages - set(LAYERS))}"


def test_no_module_imports_a_higher_layer() -> None:
    found = [line for path, module in modules() for line in upward_imports(path, module)]
    assert not found, "lower layers never import higher ones (ARCHITECTURE.md):\n" + "\n".join(found)


def test_the_scan_sees_an_upward_import(tmp_path: Path) -> None:
    """Not vacuous: a store module that imported the results layer, even inside a function, is flagged."""
    module = tmp_path / "x.py"
    module.write_text("def f():\n    from evalkit.results.summary import summarize\n")
    found = upward_imports(module, "evalkit.store.x")
    assert len(found) == 1 and "evalkit.results.summary (layer 5)" in found[0]
