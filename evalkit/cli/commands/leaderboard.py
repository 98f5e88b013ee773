"""`evalkit leaderboard`: serve the Streamlit app over a results store.

The app runs in a child process (Streamlit owns its event loop and signal handling) that reads the
store before it serves (evalkit.leaderboard.server), so no page view waits for that read.
The database URL reaches the child through the environment, never argv, so a Postgres password does
not show up in `ps` or in logs; so does the hash of an admin link made for this process only.

Loopback by default. Annotation is gated by invitation links; the result pages by the admin link once
anyone is invited or the server is bound beyond loopback (evalkit.leaderboard.admin_session). The
server answers only requests whose Host header names it (evalkit.leaderboard.host_check).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from evalkit.cli.commands.common import add_db_flag
from evalkit.core.errors import EvalkitError
from evalkit.core.redaction import redact_url
from evalkit.leaderboard import launch_env
from evalkit.leaderboard.host_check import ENV as HOSTS_ENV
from evalkit.leaderboard.host_check import WILDCARD_ADDRESSES, allowed_hosts, is_loopback

if TYPE_CHECKING:  # the store (pandas, SQLAlchemy) is imported when the command runs: `evalkit --help` stays instant
    from evalkit.cli.commands._leaderboard_admin import AdminStart
    from evalkit.store.store import Store

DEFAULT_PORT = 8501
DEFAULT_HOST = "127.0.0.1"
ADMIN_PARAM = "admin"  # evalkit.leaderboard.admin_session.ADMIN_PARAM (that module imports streamlit)
ASGI_STREAMLIT = (1, 53)  # streamlit.starlette.App, which takes the Host check as middleware
STOP_GRACE_S = 2.0  # per step of stopping the server: SIGTERM, SIGTERM again, then SIGKILL


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
        help=f"address to bind (default {DEFAULT_HOST}). Beyond loopback (e.g. 0.0.0.0), or once anyone is invited to "
        "annotate, every page but Annotate needs the admin link this command prints; an annotator's link opens Annotate only",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to NAME (their Host header), e.g. the name annotators use or the one a "
        "reverse proxy forwards; repeatable. Always answered: localhost, the --host address (this machine's name for "
        "0.0.0.0 or ::) and IP addresses; requests naming anything else are refused (403), against DNS rebinding",
    )
    parser.add_argument(
        "--new-admin-link",
        action="store_true",
        help="replace the admin link and print the new one; the old one stops working at the next page view, in every "
        "server on this store",
    )
    parser.set_defaults(handler=run_leaderboard)


def app_path() -> Path:
    """The script `streamlit run` gets: the app behind the Host header check (entry/served.py)."""
    import evalkit.leaderboard

    return Path(evalkit.leaderboard.__file__).parent / "entry" / "served.py"


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


def _open_store(url: str) -> Store:
    """Fail here, in one line, rather than as a traceback in the browser; a missing, corrupt or
    foreign store is refused without creating or changing a file."""
    from evalkit.store import Store

    return Store(url, read_only=True)


def check_streamlit() -> None:
    """The server is Streamlit's ASGI App with our Host check in front (entry/served.py): Streamlit 1.53 or
    later, with starlette and uvicorn. Say so in one line here, not as a traceback from the server. Read
    from package metadata: importing Streamlit here would cost a second before anything is served."""
    try:
        version = importlib.metadata.version("streamlit")
    except importlib.metadata.PackageNotFoundError:
        version = "none"
    release = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if release < ASGI_STREAMLIT or missing:
        found = f"streamlit {version}" + "".join(f", no {name}" for name in missing)
        raise EvalkitError(
            f"the leaderboard needs streamlit >= {'.'.join(map(str, ASGI_STREAMLIT))} with starlette and uvicorn "
            f"(found {found}); pip install -U 'streamlit[starlette]'"
        )


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


def _page_url(host: str, port: int) -> str:
    """The address to open: a wildcard bind is served under this machine's name."""
    name = socket.gethostname() if host in WILDCARD_ADDRESSES else host
    return f"http://{f'[{name}]' if ':' in name else name}:{port}/"


def _say(line: str) -> None:
    print(f"evalkit leaderboard: {line}", file=sys.stderr, flush=True)


def _announce(args: argparse.Namespace, store: Store, admin: AdminStart, allowed: list[str]) -> None:
    """Where the admin link is and who can see what; the token itself goes to stdout, once."""
    from evalkit.store.admin_link import invitations_exist

    exposed = not is_loopback(args.host)
    if exposed:
        _say(
            f"warning: serving beyond loopback ({args.host}): anyone who reaches port {args.port} gets the Annotate "
            "page's one line; every other page needs the admin link. Put HTTPS in front (a reverse proxy) so links "
            f"do not travel in clear. Requests must name an IP address or one of: {', '.join(allowed)} (add names "
            "with --allowed-host)"
        )
    if exposed or invitations_exist(store):
        _say("every page but Annotate needs the admin link; annotators' links open Annotate only")
    else:
        _say("every page is open (loopback, nobody invited); once anyone is invited the others need the admin link")
    _say(admin.note)
    if admin.token is not None:
        print(f"{_page_url(args.host, args.port)}?{urlencode({ADMIN_PARAM: admin.token})}", flush=True)


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Stop the server, and never wait on it for long: a second SIGTERM makes it skip its graceful wait,
    SIGKILL ends whatever is left."""
    for signum, wait in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, None)):
        if child.poll() is not None:
            return
        child.send_signal(signum)
        try:
            child.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _server_environment(url: str, host: str, admin: AdminStart, allowed: list[str]) -> dict[str, str]:
    """The server's environment: what it must know that argv would show to every user in `ps`."""
    env = {k: v for k, v in os.environ.items() if k not in (launch_env.ADMIN_SHA256, launch_env.EXPOSED)}
    env.update({"EVALKIT_DB": url, HOSTS_ENV: ",".join(allowed)})
    if admin.process_sha256 is not None:
        env[launch_env.ADMIN_SHA256] = admin.process_sha256
    if not is_loopback(host):
        env[launch_env.EXPOSED] = "1"
    return env


def run_leaderboard(args: argparse.Namespace) -> int:
    from evalkit.cli.commands._leaderboard_admin import prepare as prepare_admin_link
    from evalkit.core.settings import db_url

    if not 0 < args.port < 65536:
        raise EvalkitError(f"--port must be between 1 and 65535, got {args.port}")
    url = db_url(args.db)
    check_streamlit()
    check_port_free(args.host, args.port)
    store = _open_store(url)
    try:
        admin = prepare_admin_link(store, replace=args.new_admin_link)
        allowed = allowed_hosts(args.host, args.allowed_host)
        _announce(args, store, admin, allowed)
    finally:
        store.close()
    env = _server_environment(url, args.host, admin, allowed)
    _say(f"reading {redact_url(url)}, then serving {_page_url(args.host, args.port)}  (Ctrl-C to stop)")
    child = subprocess.Popen(streamlit_command(args.port, args.host), env=env)
    try:
        return child.wait()
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (evalkit.cli.main raises Terminated): exit 130 / 143 like any command
        _stop(child)
        raise
