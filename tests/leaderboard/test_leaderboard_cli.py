"""`evalkit leaderboard`: loopback by default, headless, no usage statistics, the database URL handed
over in the environment (never argv), one clear line when the store is missing or unreachable, the
admin link (printed once, stored hashed), the Host names it answers, and a warning beyond loopback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from evalkit.cli.commands import leaderboard
from evalkit.cli.main import main as cli_main
from evalkit.leaderboard import host_check, launch_env
from evalkit.store import Store, admin_link
from evalkit.store import schema as t
from evalkit.store.invitations import token_hash


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
    assert argv[1:3] == ["-m", "evalkit.leaderboard.server"] and argv[3].endswith("served.py") and Path(argv[3]).is_file()
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


def _start(url: str, monkeypatch: pytest.MonkeyPatch, *flags: str) -> dict:
    """Run `evalkit leaderboard` up to the server's start; returns its argv and environment."""
    launched: dict = {}
    monkeypatch.setattr(subprocess, "Popen", lambda argv, env: launched.update(argv=argv, env=env) or _FakeChild())
    assert cli_main(["leaderboard", "--db", url, "--port", "8766", *flags]) == 0
    return launched


def _admin_token(stdout: str) -> str | None:
    links = [line for line in stdout.splitlines() if "?admin=" in line]
    assert len(links) <= 1, stdout
    return parse_qs(urlparse(links[0]).query)["admin"][0] if links else None


def _meta(url: str) -> list[str]:
    return list(Store(url).frame(select(t.meta.c.value))["value"])


def test_the_admin_link_is_printed_once_and_stored_only_as_its_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url)
    first = _start(url, monkeypatch)
    out, err = capsys.readouterr()
    token = _admin_token(out)
    assert token and out.strip() == f"http://127.0.0.1:8766/?admin={token}"
    assert admin_link.opens(token, [admin_link.stored(Store(url)).token_sha256])  # type: ignore[union-attr]
    assert not any(token in value for value in _meta(url)) and any(token_hash(token) in value for value in _meta(url))
    assert token not in err and not any(token in part for part in first["argv"]) and token not in repr(first["env"])
    assert launch_env.ADMIN_SHA256 not in first["env"]  # the store holds the hash; the server reads it there
    assert "every page is open" in err  # loopback, nobody invited: as before

    _start(url, monkeypatch)  # a restart keeps the link: nothing to print, it says where the link is
    out, err = capsys.readouterr()
    assert _admin_token(out) is None and "the one printed when it was made" in err and "--new-admin-link" in err

    _start(url, monkeypatch, "--new-admin-link")
    out, _ = capsys.readouterr()
    new = _admin_token(out)
    assert new and new != token
    stored = admin_link.stored(Store(url))
    assert (
        stored is not None and admin_link.opens(new, [stored.token_sha256]) and not admin_link.opens(token, [stored.token_sha256])
    )


def test_a_store_that_cannot_be_written_gets_an_admin_link_for_this_process_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url)

    def read_only(store: Store) -> str:
        raise OperationalError("INSERT INTO meta", {}, Exception("attempt to write a readonly database"))

    monkeypatch.setattr(admin_link, "replace", read_only)
    launched = _start(url, monkeypatch)
    out, err = capsys.readouterr()
    token = _admin_token(out)
    assert token and "until this server stops" in err and token not in err
    assert launched["env"][launch_env.ADMIN_SHA256] == token_hash(token)  # its hash, in the environment only
    assert not any(token in part for part in launched["argv"]) and token not in repr(launched["env"])
    assert admin_link.stored(Store(url)) is None
    assert cli_main(["leaderboard", "--db", url, "--new-admin-link"]) == 2  # cannot end the stored link: say so
    assert "not writable" in capsys.readouterr().err


def test_beyond_loopback_it_warns_gates_the_results_and_names_the_hosts_it_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url)
    launched = _start(url, monkeypatch, "--host", "0.0.0.0", "--allowed-host", "Evals.Example.org", "--allowed-host", "proxy")
    out, err = capsys.readouterr()
    assert launched["env"][launch_env.EXPOSED] == "1"
    hosts = launched["env"][host_check.ENV].split(",")
    assert {"localhost", "127.0.0.1", "::1", socket.gethostname().lower(), "evals.example.org", "proxy"} == set(hosts)
    warning = next(line for line in err.splitlines() if "warning" in line)
    assert "beyond loopback" in warning and "--allowed-host" in warning and "evals.example.org" in warning
    assert "every page but Annotate needs the admin link" in err
    assert _admin_token(out) is not None and f"{socket.gethostname()}:8766" in out


def test_on_loopback_it_answers_loopback_names_only_and_does_not_warn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url)
    launched = _start(url, monkeypatch)
    err = capsys.readouterr().err
    assert launch_env.EXPOSED not in launched["env"] and "warning" not in err
    assert set(launched["env"][host_check.ENV].split(",")) == {"localhost", "127.0.0.1", "::1"}


def test_a_streamlit_without_its_asgi_app_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Host check runs as middleware of Streamlit's ASGI App: an older Streamlit is refused before
    anything is read or printed, not left to fail as a traceback in the server."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url)
    monkeypatch.setattr(leaderboard.importlib.metadata, "version", lambda name: "1.40.2")
    assert cli_main(["leaderboard", "--db", url]) == 2
    out, err = capsys.readouterr()
    assert "streamlit >= 1.53" in err and "1.40.2" in err and err.count("\n") == 1 and "?admin=" not in out
