"""evalkit/store/ is the one home of database access (issue 24): every query sits behind a typed function
or `Store` method there. An AST scan of the product packages finds any other module that imports
SQLAlchemy (any submodule), imports the table definitions (`evalkit.store.schema`), or opens a
connection of a store's engine to run SQL of its own."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("evalkit", "judges", "leaderboard", "train")
HOME = ROOT / "evalkit" / "store"
SCHEMA = "evalkit.store.schema"  # also its versioned siblings (schema_v2, ...)


def _is_database_module(name: str) -> bool:
    return name == "sqlalchemy" or name.startswith("sqlalchemy.") or name.startswith(SCHEMA)


def _imported_modules(node: ast.AST) -> list[str]:
    """The modules an import statement brings in (`from evalkit.store import schema` brings in
    evalkit.store.schema)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if _is_database_module(node.module):
            return [node.module]
        return [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def _opens_engine(node: ast.AST) -> bool:
    """`<anything>.engine.connect()` / `.engine.begin()`: a connection to run SQL on."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("connect", "begin")
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "engine"
    )


def database_access(path: Path) -> list[str]:
    """`path:line what` for each place the module reaches the database itself."""
    where = path.relative_to(ROOT)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, (ast.stmt, ast.expr)):
            continue
        for name in _imported_modules(node):
            if _is_database_module(name):
                found.append(f"{where}:{node.lineno} imports {name}")
        if _opens_engine(node):
            found.append(f"{where}:{node.lineno} opens a connection of a store's engine")
    return found


def product_modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py") if "__pycache__" not in path.parts)


def test_the_scan_sees_the_store_itself() -> None:
    """Not vacuous: the store's own modules, scanned the same way, are found."""
    assert any("imports sqlalchemy" in line for line in database_access(HOME / "store.py"))
    assert any("imports evalkit.store.schema" in line for line in database_access(HOME / "data_tables.py"))
    assert any("opens a connection" in line for line in database_access(HOME / "data_tables.py"))


def test_no_module_outside_the_store_reaches_the_database() -> None:
    modules = [path for path in product_modules() if HOME not in path.parents]
    assert len(modules) > 100  # the scan found the packages
    offending = [line for path in modules for line in database_access(path)]
    assert not offending, "database access outside evalkit/store/ (move it behind a store function):\n" + "\n".join(offending)
