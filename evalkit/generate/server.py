"""A model server run as a child process (`vllm serve`, `transformers serve`) on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from evalkit.errors import EvalkitError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ManagedServer:
    """Starts `command` (which must listen on `port`), waits until /health answers 200, stops it on close.

    /health, not /v1/models: `vllm serve` and `transformers serve` both have it, and offline
    `transformers serve` answers /v1/models with 500 when no hub cache directory exists."""

    def __init__(
        self,
        command: Sequence[str],
        port: int,
        host: str = "127.0.0.1",
        startup_timeout_s: float = 600.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.root_url = f"http://{host}:{port}"
        self.base_url = f"{self.root_url}/v1"
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=None if env is None else {**os.environ, **env},
        )
        try:
            self._wait_ready(startup_timeout_s)
        except BaseException:
            self.close()
            raise

    def _tail(self, lines: int = 3) -> str:
        self.log.seek(0)
        text = self.log.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(text[-lines:])[:400]

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EvalkitError(f"{self.command[0]} exited with code {self.process.returncode} before serving: {self._tail()}")
            try:
                with urllib.request.urlopen(f"{self.root_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.5)
        raise EvalkitError(f"{self.command[0]} did not start serving within {timeout_s:.0f} s: {self._tail()}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self) -> ManagedServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def transformers_serve_command(model_path: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """`transformers serve` pinned to one model, for tests and CPU machines."""
    executable = [sys.executable, "-m", "transformers.cli.transformers"]
    return [*executable, "serve", model_path, "--host", host, "--port", str(port), "--device", "cpu", "--log-level", "warning"]


def vllm_serve_command(
    model_path: str, served_name: str, port: int, host: str = "127.0.0.1", extra: Sequence[str] = ()
) -> list[str]:
    return ["vllm", "serve", model_path, "--host", host, "--port", str(port), "--served-model-name", served_name, *extra]
