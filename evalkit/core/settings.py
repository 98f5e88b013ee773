"""Configuration lookup with one precedence everywhere: CLI flag > environment > config file > default.

The config file is TOML: `$EVALKIT_CONFIG`, else `./evalkit.toml` when present. Keys are the long flag
names with dashes or underscores (`db`, `judge_base_url`, ...).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_DB_URL = "sqlite:///evalkit.db"
# where annotators reach `evalkit leaderboard` unless told otherwise (its default bind and port)
DEFAULT_LEADERBOARD_URL = "http://127.0.0.1:8501"


@lru_cache(maxsize=1)
def _config_file() -> dict[str, Any]:
    path = os.environ.get("EVALKIT_CONFIG") or ("evalkit.toml" if Path("evalkit.toml").exists() else None)
    if not path:
        return {}
    from evalkit.files.userfile import UserFile

    with UserFile(path, "config file (EVALKIT_CONFIG / ./evalkit.toml)") as file:  # a bad one must not crash every command
        raw = file.toml()
    return {key.replace("-", "_"): value for key, value in raw.items()}


def resolve(name: str, flag_value: Any, default: Any = None, env: tuple[str, ...] = ()) -> Any:
    """Return the first of: the flag's value, `EVALKIT_<NAME>`, any extra env names, the config file, default."""
    if flag_value is not None:
        return flag_value
    for var in (f"EVALKIT_{name.upper()}", *env):
        value = os.environ.get(var)
        if value:
            return value
    file_value = _config_file().get(name)
    return default if file_value is None else file_value


def db_url(flag_value: str | None) -> str:
    return str(resolve("db", flag_value, DEFAULT_DB_URL))
