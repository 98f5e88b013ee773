"""Slowing down wrong tokens, per browser session: each failed check makes the session wait longer
(1 s, 2 s, 4 s ... up to 30 s) before its next one. A guess per rerun is slowed, and the tokens' 256
random bits make guessing hopeless anyway. Only counters and times are kept, never a token."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

T = TypeVar("T")
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0


def backoff_seconds(failures: int) -> float:
    """The wait before the next check after `failures` failed tokens in a row."""
    return 0.0 if failures <= 0 else min(BACKOFF_FIRST_S * 2 ** (failures - 1), BACKOFF_MAX_S)


def throttled(name: str, check: Callable[[], T | None]) -> T | None:
    """check(), once this session's wait for `name` is over; None (a wrong token) lengthens the next wait."""
    wait = st.session_state.get(f"{name}_retry_at", 0.0) - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    result = check()
    failures = 0 if result is not None else st.session_state.get(f"{name}_failed_tokens", 0) + 1
    st.session_state[f"{name}_failed_tokens"] = failures
    st.session_state[f"{name}_retry_at"] = time.monotonic() + backoff_seconds(failures)
    return result
