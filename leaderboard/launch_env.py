"""What `evalkit leaderboard` tells its server process about access, through the environment (argv is
visible to every user in `ps`). The Host names travel in host_check.ENV, the database URL in EVALKIT_DB."""

from __future__ import annotations

import os

EXPOSED = "EVALKIT_LEADERBOARD_EXPOSED"  # "1": bound beyond loopback, so the result pages need the admin link
ADMIN_SHA256 = "EVALKIT_ADMIN_TOKEN_SHA256"  # the hash of an admin link made for this process (store read-only)


def exposed() -> bool:
    return os.environ.get(EXPOSED, "") == "1"


def process_admin_sha256() -> str | None:
    return os.environ.get(ADMIN_SHA256) or None
