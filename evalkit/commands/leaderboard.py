"""`evalkit leaderboard`: serve the Streamlit app over a results store.

The app runs in a child process (Streamlit owns its event loop and signal handling) that reads the
store before it serves (evalkit.leaderboard.server), so no page view waits for that read.
The database URL reaches the child through the environment, never argv, so a Postgres password does
not show up in `ps` or in logs. Loopback by default: only annotation is gated (by invitation links),
the result pages have no authentication.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from evalkit.commands.common import add_db_flag
from evalkit.errors import EvalkitError
from evalkit.store.store import redact_url

DEFAULT_PORT = 8501
DEFAULT_HOST = "127.0.0.1"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="browse results: leaderboard, checkpoints, compare, annotate, agreement (Streamlit)",
        description="Serve the leaderboard web app on HOST:PORT until interrupted.",
    )
    add_db_flag(parser)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to bind (default {DEFAULT_HOST}; only the Annotate page needs a link (`evalkit annotate invite`), "
        "every other page is open to whoever reaches it: expose it deliberately)",
    )
    parser.set_defaults(handler=run_leaderboard)


def app_path() -> Path:
    import evalkit.leaderboard

    return Path(evalkit.leaderboard.__file__).parent / "entry" / "app.py"


def streamlit_command(port: int, host: str) -> list[str]:
    """The child's argv: `streamlit run` options after the app; headless, no usage statistics, no file
    watcher (an installed app does not change)."""
    return [
        sys.executable,
        "-m",
        "evalkit.leaderboard.server",
        str(app_path()),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "minimal",
    ]


def _check_store(url: str) -> None:
    """Fail here, in one line, rather than as a traceback in the browser; a missing, corrupt or
    foreign store is refused without creating or changing a file."""
    from evalkit.store import Store

    Store(url, read_only=True).engine.dispose()


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on before the store is read (which can take a while),
    instead of Streamlit's late "Port P is not available". SO_REUSEADDR, as Streamlit's server sets it,
    so a port left in TIME_WAIT by a previous run still counts as free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise EvalkitError(
                f"cannot serve on {host}:{port} ({exc.strerror}); pick another --port or stop what uses it"
            ) from None


def run_leaderboard(args: argparse.Namespace) -> int:
    from evalkit.settings import db_url

    if not 0 < args.port < 65536:
        raise EvalkitError(f"--port must be between 1 and 65535, got {args.port}")
    url = db_url(args.db)
    check_port_free(args.host, args.port)
    _check_store(url)
    env = {**os.environ, "EVALKIT_DB": url}
    print(
        f"evalkit leaderboard: reading {redact_url(url)}, then serving http://{args.host}:{args.port}  (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    child = subprocess.Popen(streamlit_command(args.port, args.host), env=env)
    # A supervisor stopping us with SIGTERM must not leave the server running as an orphan.
    stopped: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopped.append(signum)
        child.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        code = child.wait()
        return 0 if stopped else code
    except KeyboardInterrupt:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
