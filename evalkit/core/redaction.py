"""Secrets out of everything evalkit shows or keeps: error lines, logs, progress lines, stored replies.

One helper for every URL (database or judge endpoint): `http://user:pw@host/v1` is shown as
`http://user:***@host/v1`, a bare token in the user part (`https://TOKEN@host`) as `***@host`, and
query values named like a secret (`?api_key=...`) as `***`. Free text additionally loses
`Bearer <token>` and the API key itself, so a server that echoes the Authorization header cannot put
the key into a message or into `judgments.raw`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any

HIDDEN = "***"
# Where the API key comes from (evalkit.judges.calls.resolve_endpoint, the openai generation backend).
SECRET_ENVIRONMENT = ("OPENAI_API_KEY",)
# Shorter "keys" are placeholders (local servers take any key: "EMPTY", "x") and would mangle text.
MIN_SECRET_LENGTH = 8

# scheme://USERINFO@ : greedy up to the authority's last "@", so a password holding "@" is hidden whole.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s]*)@")
_SECRET_QUERY = re.compile(
    r"(?P<name>[?&;][\w.\-]*(?:key|token|secret|password|passwd|pwd|sig|signature))=(?P<value>[^&#\s]*)", re.IGNORECASE
)
_BEARER = re.compile(r"\b(?P<scheme>Bearer|Basic)\s+[A-Za-z0-9\-._~+/]{8,}=*", re.IGNORECASE)


def _hide_userinfo(match: re.Match[str]) -> str:
    user, has_password, _ = match["userinfo"].partition(":")
    shown = f"{user}:{HIDDEN}" if has_password and user else HIDDEN
    return f"{match['scheme']}{shown}@"


def redact_url(url: str) -> str:
    """A URL (or any text holding URLs) without credentials: safe for messages, logs and the store."""
    without_userinfo = _USERINFO.sub(_hide_userinfo, str(url))
    return _SECRET_QUERY.sub(lambda m: f"{m['name']}={HIDDEN}", without_userinfo)


def known_secrets() -> list[str]:
    """The API keys evalkit was given through the environment (long enough to be real ones)."""
    values = (os.environ.get(name) or "" for name in SECRET_ENVIRONMENT)
    return [value for value in values if len(value) >= MIN_SECRET_LENGTH and value != "EMPTY"]


def remove_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """Text without the environment's API key or `secrets`, and nothing else changed."""
    for secret in sorted({*known_secrets(), *secrets}, key=len, reverse=True):  # longest first: a key inside another
        if len(secret) >= MIN_SECRET_LENGTH and secret != "EMPTY":
            text = text.replace(secret, HIDDEN)
    return text


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Free text without URL credentials, bearer/basic tokens, the environment's API key or `secrets`."""
    return remove_secrets(_BEARER.sub(lambda m: f"{m['scheme']} {HIDDEN}", redact_url(text)), secrets)


def redact_values(value: Any) -> Any:
    """A JSON-like value (a stored run configuration) with every string redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_values(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Rewrites each log record's message without secrets (httpx and openai log request URLs at -v)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_logs() -> None:
    """Put the filter on every root handler (records from any logger pass through them)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
