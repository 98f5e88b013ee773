"""`evalkit leaderboard` as a real server: it answers only requests addressed to its own names (DNS
rebinding), and SIGTERM to its process group, as systemd sends it, stops the command and its server
within seconds, exit 143 like every evalkit command."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

if not Path("/proc/self/stat").exists():
    pytest.skip("reads process groups from /proc (Linux)", allow_module_level=True)

from bench.leaderboard_data import populate
from evalkit.store import Store
from tests.leaderboard_browser import free_port

PROXY_NAME = "evals.proxy.example"
STOPS_WITHIN_S = 5.0


def _status(port: int, host: str, path: str = "/", upgrade: bool = False) -> int:
    headers = {"Host": host}
    if upgrade:  # a WebSocket handshake: the page's data travels on it
        headers.update(
            Connection="Upgrade",
            Upgrade="websocket",
            **{"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
        )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def _group_alive(pgid: int) -> list[int]:
    """Processes of the group that still run. Zombies do not count: they are dead, waiting for init
    (their parent, the server, is gone) to collect their exit status."""
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, _, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            except (OSError, ValueError):
                continue
            if int(group) == pgid and state != "Z":
                alive.append(int(entry.name))
    return alive


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`evalkit leaderboard` in its own process group over a judged store (its worker process starts the
    length-controlled win rates at once), with one name added for a reverse proxy."""
    folder = tmp_path_factory.mktemp("serving")
    url = f"sqlite:///{folder / 'store.db'}"
    populate(Store(url), runs=1, epochs=2, prompts=6, with_decisions=False)
    port, log = free_port(), folder / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "EVALKIT_CACHE_DIR": str(folder / "cache")}
    env.pop("EVALKIT_DB", None)
    command = [sys.executable, "-m", "evalkit", "leaderboard", "--db", url, "--port", str(port), "--allowed-host", PROXY_NAME]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if _status(port, f"127.0.0.1:{port}", "/_stcore/health") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield process, port, log
    finally:
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)  # a test failed: leave nothing behind
        process.wait()


def test_only_requests_naming_this_server_are_answered(server) -> None:
    _, port, _ = server
    # An IP address cannot be rebound (a page loaded from it has it as its origin): Streamlit's "Network URL"
    for name in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST", PROXY_NAME, f"192.0.2.7:{port}"):
        assert _status(port, name) == 200, name
    for name in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", "", "a b", "localhost@evil.example"):
        assert _status(port, name) == 403, name
        assert _status(port, name, "/_stcore/health") == 403, name
        assert _status(port, name, "/_stcore/stream", upgrade=True) == 403, name  # no WebSocket, so no page data


def test_sigterm_to_the_process_group_stops_everything_within_seconds(server) -> None:
    process, port, log = server
    assert _status(port, f"127.0.0.1:{port}") == 200
    os.killpg(process.pid, signal.SIGTERM)  # as `systemctl stop` and `kill -TERM -- -PGID` do
    started = time.monotonic()
    code = process.wait(timeout=30)
    while _group_alive(process.pid) and time.monotonic() - started < 30:
        time.sleep(0.1)
    gone_after = time.monotonic() - started
    assert not _group_alive(process.pid), f"processes of the leaderboard's group survived SIGTERM: {_group_alive(process.pid)}"
    assert gone_after < STOPS_WITHIN_S, (gone_after, log.read_text())
    assert code == 143, log.read_text()
