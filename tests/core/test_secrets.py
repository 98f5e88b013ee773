"""No secret in anything evalkit shows or keeps (issue 23): a judge URL's credentials, the API key and
bearer tokens are hidden in error lines, logs, job failure lines and in stored judge replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.cli.main import main
from evalkit.core.redaction import redact_text, redact_url
from evalkit.generate.server import free_port
from evalkit.store import Store
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer
from tests.helpers import run_cli

API_KEY = "sk-issue23-very-secret-key"
PASSWORD = "hunter2pw"
PROXY_TOKEN = "proxytoken.abc123XYZ"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    for name in ("OPENAI_BASE_URL", "EVALKIT_JUDGE_BASE_URL", "EVALKIT_DB"):
        monkeypatch.delenv(name, raising=False)
    outputs = [{"instruction": f"question {i}", "output": f"answer {i}", "generator": "m"} for i in range(2)]
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:hunter2pw@host:8000/v1", "http://user:***@host:8000/v1"),
        ("https://sk-token-as-user@host/v1", "https://***@host/v1"),
        ("postgresql+psycopg://app:p@ss%2Fw@db.example/evalkit", "postgresql+psycopg://app:***@db.example/evalkit"),
        ("https://host/v1?api_key=abcdef&x=1", "https://host/v1?api_key=***&x=1"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
        ("sqlite:///evalkit.db", "sqlite:///evalkit.db"),
    ],
)
def test_one_helper_hides_credentials_in_any_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_text(f"cannot reach {url}; retry") == f"cannot reach {shown}; retry"


def test_free_text_loses_the_api_key_and_bearer_tokens() -> None:
    text = f"echo: Authorization: Bearer {PROXY_TOKEN}; key {API_KEY}"
    assert redact_text(text) == "echo: Authorization: Bearer ***; key ***"


def test_judge_url_credentials_never_reach_the_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://user:{PASSWORD}@127.0.0.1:{free_port()}/v1"
    code = main(["judge", "--judge", "likert", "--outputs", "outputs.json", "--judge-base-url", url, "--http-retries", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach judge endpoint http://user:***@127.0.0.1" in err, err
    assert PASSWORD not in err


@pytest.mark.slow  # a child process
def test_verbose_logs_hide_url_credentials(tmp_path: Path) -> None:
    """`-v` logs every request's URL (httpx, openai): run as a user would, in a child process."""
    with FakeOpenAIServer(lambda body: Completion("fine\n4\n4")) as server:
        url = server.base_url.replace("http://", f"http://user:{PASSWORD}@")
        args = ["-v", "judge", "--judge", "likert", "--outputs", "outputs.json", "--judge-base-url", url, "--json"]
        result = run_cli(*args, timeout=120, env={"OPENAI_API_KEY": API_KEY, "EVALKIT_DB": f"sqlite:///{tmp_path / 'v.db'}"})
    assert result.returncode == 0, result.stderr
    assert "HTTP Request: POST http://user:***@127.0.0.1" in result.stderr, result.stderr[-2000:]
    assert PASSWORD not in result.stderr and API_KEY not in result.stderr


def test_an_echoed_authorization_header_is_not_stored(capsys: pytest.CaptureFixture[str]) -> None:
    """A server (or proxy) that repeats the request's headers in its reply: the key and any bearer token
    are scrubbed before the reply is parsed, stored in judgments.raw, or shown."""
    echo = f"Request had Authorization: Bearer {API_KEY} and X-Proxy: Bearer {PROXY_TOKEN}\n4\n4"
    with FakeOpenAIServer(lambda body: Completion(echo)) as server:
        code = main(["judge", "--judge", "likert", "--outputs", "outputs.json", "--judge-base-url", server.base_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    raws = Store("sqlite:///evalkit.db", read_only=True).judgments()["raw"].tolist()
    assert len(raws) == 2 and all("Bearer ***" in raw for raw in raws)
    assert not any(API_KEY in raw or PROXY_TOKEN in raw for raw in raws)
    assert API_KEY not in out + err


def test_a_database_url_is_shown_without_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["stats", "summary", "--db", f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:{free_port()}/db"])
    err = capsys.readouterr().err
    assert code == 2 and PASSWORD not in err, err


def test_a_stored_run_configuration_holds_no_credentials(tmp_path: Path) -> None:
    from evalkit.store.provenance import start_run
    from evalkit.store.schema import runs

    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    run_id = start_run(store, "run", {"baseline": f"https://user:{PASSWORD}@host/outputs.json", "note": [f"key {API_KEY}"]})
    stored = store.frame(runs.select().where(runs.c.id == run_id))["config"].iloc[0]
    assert stored == {"baseline": "https://user:***@host/outputs.json", "note": ["key ***"]}
