"""What produced each result: judge specs (stored once, readable from their hash) and a record of
every evaluating invocation (configuration, evalkit version, git revision). No secrets are stored:
configurations are built by the commands from their options, and database URLs are redacted."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from evalkit import __version__
from evalkit.core.errors import EvalkitError
from evalkit.core.redaction import redact_values
from evalkit.store import schema as t
from evalkit.store.run_states import record_process
from evalkit.store.store import Store


def save_judge_specs(store: Store, rows: list[dict[str, Any]]) -> None:
    """Rows: spec_hash, judge_model, judge_kind, output, label, description. Already stored ones are kept."""
    with store.engine.begin() as conn:
        store._insert_ignore(conn, t.judge_specs, rows)


def judge_specs(store: Store, spec_prefix: str | None = None) -> list[dict[str, Any]]:
    """Stored judge specs, all or those whose hash starts with `spec_prefix`."""
    query = select(t.judge_specs).order_by(t.judge_specs.c.spec_hash, t.judge_specs.c.judge_kind)
    if spec_prefix:
        query = query.where(t.judge_specs.c.spec_hash.startswith(spec_prefix))
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def declared_outputs(store: Store) -> dict[str, str]:
    """judge_kind -> output for every kind whose spec was stored (stores from before specs were
    recorded have none; the results layer then infers the output from the rows)."""
    query = select(t.judge_specs.c.judge_kind, t.judge_specs.c.output).distinct()
    with store.engine.connect() as conn:
        pairs = conn.execute(query).fetchall()
    outputs: dict[str, str] = {}
    for kind, output in pairs:
        if outputs.setdefault(kind, output) != output:
            raise EvalkitError(
                f"judge kind {kind!r} is stored with two different outputs ({outputs[kind]}, {output}); "
                "rename one of the custom judge specs"
            )
    return outputs


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The checkout's commit when evalkit runs from a git working tree (None for an installed wheel)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def start_run(store: Store, command: str, config: dict[str, Any]) -> int:
    with store.engine.begin() as conn:
        result = conn.execute(
            t.runs.insert().values(
                command=command,
                evalkit_version=__version__,
                git_revision=git_revision(),
                config=redact_values(config),  # a path or name given as a URL must not store its credentials
                status="running",
            )
        )
        run_id = int(result.inserted_primary_key[0])  # type: ignore[index]  # an insert always has one
        record_process(conn, run_id)  # so a reader can tell a SIGKILLed run (which records no end) from a live one
        return run_id


def finish_run(store: Store, run_id: int, status: str) -> None:
    """The run's end: "finished", "failed" or "interrupted" (Ctrl-C, SIGTERM), with its time."""
    with store.engine.begin() as conn:
        conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(status=status, finished_at=datetime.now(timezone.utc)))
