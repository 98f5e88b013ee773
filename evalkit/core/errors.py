"""The one exception type a user can cause; the CLI turns it into a single line and exit code 2."""

from __future__ import annotations


class EvalkitError(Exception):
    """A problem with the user's input or environment (bad file, unreachable server, broken checkpoint).

    The message must name the thing and say what to do; it must never contain a secret.
    """

    exit_code = 2
