"""Is a recorded run still going? A run records its end when it finishes, fails or is interrupted
(Ctrl-C, SIGTERM); a SIGKILLed one (or a lost machine) cannot, and would read `running` forever.

So every run also records its process (host, pid, the pid's start time), and a reader on the same host
checks it, as pid files are checked: a `running` run whose process is gone, or whose pid now belongs to
another process (a different start time), or is a zombie, is shown as "ended (killed)". From another
host the process cannot be checked, and the run is shown as running there, unverified.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, inspect, select

from evalkit.store import schema as t
from evalkit.store.store import Store

RUNNING = "running"
KILLED = "ended (killed)"


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state first), or None where there is no such file."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()  # the command name (field 2) may hold spaces and ")"


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks after boot (proc(5) field 22), None off Linux."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def this_process() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "process_start": process_start(pid)}


def record_process(conn: Connection, run_id: int) -> None:
    conn.execute(t.run_processes.insert().values(run_id=run_id, **this_process()))


def process_alive(pid: int, start: int | None) -> bool:
    """Whether the process `pid` that started at `start` (None: unknown) still runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc to look closer
    return fields[0] != "Z" and (start is None or int(fields[19]) == start)


def shown_status(status: str, host: Any, pid: Any, start: Any) -> str:
    """The status to show for a recorded one: a `running` run whose process is gone is KILLED."""
    if status != RUNNING or not isinstance(host, str) or pd.isna(pid):
        return status
    if host != socket.gethostname():
        return f"{RUNNING} (on {host}, unverified)"
    return RUNNING if process_alive(int(pid), None if pd.isna(start) else int(start)) else KILLED


def runs_with_states(store: Store) -> pd.DataFrame:
    """Every recorded run with its process (where recorded) and `status` as shown; the stored value
    is kept as `recorded_status`."""
    runs = store.frame(t.runs.select().order_by(t.runs.c.id))
    if inspect(store.engine).has_table(t.run_processes.name):  # a read-only open of an older store may lack it
        processes = store.frame(select(t.run_processes))
    else:
        processes = pd.DataFrame(columns=["run_id", "host", "pid", "process_start"])
    frame = runs.merge(processes.rename(columns={"run_id": "id"}), on="id", how="left")
    frame = frame.rename(columns={"status": "recorded_status"})
    frame.insert(
        frame.columns.get_loc("recorded_status"),
        "status",
        [shown_status(*row) for row in frame[["recorded_status", "host", "pid", "process_start"]].itertuples(index=False)],
    )
    return frame
