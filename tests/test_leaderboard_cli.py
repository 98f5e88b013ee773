"""`evalkit leaderboard`: loopback by default, headless, no usage statistics, the database URL handed
over in the environment (never argv), and one clear line when the store is missing or unreachable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from evalkit.cli import main as cli_main
from evalkit.commands import leaderboard
from evalkit.store import Store


class _FakeChild:
    returncode = 0

    def wait(self, timeout: float | None = None) -> int:
        return 0


def test_serves_streamlit_on_loopback_with_the_url_in_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url)
    launched: dict = {}

    def fake_popen(argv, env):  # type: ignore[no-untyped-def]
        launched.update(argv=argv, env=env)
        return _FakeChild()

    monkeypatch.setattr(subprocess, "Popen", fake_popen)
    assert cli_main(["leaderboard", "--db", url, "--port", "8765"]) == 0
    argv = launched["argv"]
    assert argv[1:3] == ["-m", "evalkit.leaderboard.server"] and argv[3].endswith("app.py") and Path(argv[3]).is_file()
    options = dict(zip(argv[4::2], argv[5::2]))
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8765"
    assert options["--server.headless"] == "true" and options["--browser.gatherUsageStats"] == "false"
    assert launched["env"]["EVALKIT_DB"] == url and not any(url in part for part in argv)


def test_host_flag_binds_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url)
    seen: list[list[str]] = []
    monkeypatch.setattr(subprocess, "Popen", lambda argv, env: seen.append(argv) or _FakeChild())
    assert cli_main(["leaderboard", "--db", url, "--host", "0.0.0.0"]) == 0
    assert "0.0.0.0" in seen[0] and str(leaderboard.DEFAULT_PORT) in seen[0]


def test_missing_store_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["leaderboard", "--db", f"sqlite:///{tmp_path / 'nope.db'}"]) == 2
    err = capsys.readouterr().err
    assert "no results store" in err and err.count("\n") == 1
    assert not (tmp_path / "nope.db").exists()  # looking did not create an empty store


def test_a_password_in_the_url_never_reaches_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["leaderboard", "--db", "postgresql+nosuchdriver://user:hunter2@localhost:1/db"]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err and "unknown database scheme" in err


def test_bad_port_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["leaderboard", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err
