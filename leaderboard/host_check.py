"""The Host header check: the server answers only requests addressed to a name it was meant to serve.

Without it, a web page on any site can reach the leaderboard through DNS rebinding: the attacker's
name first resolves to their server, then to 127.0.0.1, and the browser, treating both as the same
origin, hands the page our answers. Such a request still carries the attacker's name in its Host
header, so refusing unknown names stops it. Allowed: the loopback names, the bound address, what
`--allowed-host` adds (the name annotators type, the name a reverse proxy forwards), and any IP address:
a page loaded from an address rather than a name cannot be rebound (its origin is that address), and
this is what lets Streamlit's "Network URL" work on a 0.0.0.0 bind.

`evalkit leaderboard` computes the names (allowed_hosts) and hands them to the server process in
EVALKIT_ALLOWED_HOSTS; HostCheck, an ASGI middleware on the Streamlit app (entry/served.py), refuses
every other HTTP request with 403 and every other WebSocket before it opens. This module imports
nothing heavy: the command line uses it too.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

ENV = "EVALKIT_ALLOWED_HOSTS"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")
REFUSED = b"This server answers only under its own name (Host header refused). See `evalkit leaderboard --allowed-host`.\n"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _normal(name: str) -> str:
    return name.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the server on this machine (only loopback addresses do)."""
    name = _normal(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> list[str]:
    """The Host names to answer: loopback, the bound address (a wildcard bind is no name: this machine's
    hostname instead) and `extra`, without duplicates."""
    names = [*LOOPBACK_NAMES, socket.gethostname() if _normal(bound) in WILDCARD_ADDRESSES else bound, *extra]
    return list(dict.fromkeys(_normal(n) for n in names if _normal(n)))


def host_allowed(header: str | None, allowed: Collection[str]) -> bool:
    """Whether a Host header names one of `allowed` or is an IP address; its port is ignored, anything
    malformed is refused."""
    if not header:
        return False
    try:
        parts = urlsplit(f"//{header}")
        parts.port  # noqa: B018  (raises on a port that is not a number in range)
    except ValueError:
        return False
    if parts.hostname is None or parts.username is not None or parts.password is not None or parts.path or parts.query:
        return False
    name = _normal(parts.hostname)
    return name in allowed or _is_address(name)


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_from_environment() -> list[str]:
    """The names `evalkit leaderboard` passed; loopback only when started some other way."""
    names = [n for n in os.environ.get(ENV, "").split(",") if n.strip()]
    return [_normal(n) for n in names] or list(LOOPBACK_NAMES)


class HostCheck:
    """ASGI middleware: requests (HTTP and WebSocket) whose Host is not allowed never reach Streamlit."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.allowed = frozenset(allowed_from_environment())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((value.decode("latin-1") for key, value in scope["headers"] if key == b"host"), None)
        if host_allowed(host, self.allowed):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403
        else:
            headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(REFUSED)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": REFUSED})
