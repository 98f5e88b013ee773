"""Honest failures (issue 23): a typo in an input is exit 2 in one line and leaves no store; an output
folder that does not exist is refused before any work; a judge endpoint lost mid-job is exit 1 with
what was stored; a failed export (a full disk included) leaves no partial file."""

from __future__ import annotations

import errno
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.main import main
from evalkit.store import Store
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, Hang


def files_in(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("EVALKIT_DB", "OPENAI_BASE_URL", "EVALKIT_JUDGE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-honest-failures-key")
    rows = [{"instruction": f"question {i}", "output": f"answer {i}", "generator": "m"} for i in range(30)]
    (tmp_path / "outputs.json").write_text(json.dumps(rows))
    (tmp_path / "base.json").write_text(json.dumps([{**row, "output": "base", "generator": "base"} for row in rows]))
    return tmp_path


def fails_cleanly(argv: list[str], folder: Path, capsys: pytest.CaptureFixture[str], expected: str) -> None:
    before = files_in(folder)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and expected in err, err
    assert files_in(folder) == before  # no store, no folder, no file


# ---- 1. a typo in an input: exit 2, one line, no store ----------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["judge", "--judge", "reference", "--outputs", "outputs.json", "--baseline", "nope.json"],
            "--baseline nope.json: file not found",
        ),
        (
            ["judge", "--judge", "reference", "--outputs", "nope.json", "--baseline", "base.json"],
            "--outputs nope.json: file not found",
        ),
        (
            ["judge", "--judge", "likert", "--outputs", "outputs.json", "--prompts", "nope.jsonl"],
            "nope.jsonl not found",
        ),
    ],
)
def test_judge_input_typos_create_no_store(
    argv: list[str], expected: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fails_cleanly(argv, workdir, capsys, expected)


def test_run_baseline_typo_names_both_readings_and_creates_no_store(
    workdir: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--checkpoint", str(tiny_model_dir), "--judges", "reference", "--baseline", "nope.json"]
    fails_cleanly(argv, workdir, capsys, "--baseline nope.json: no such file and no model of that name in the store")


def test_run_baseline_typo_with_an_existing_store_leaves_it_unchanged(
    workdir: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Store("sqlite:///evalkit.db").engine.dispose()
    argv = ["run", "--checkpoint", str(tiny_model_dir), "--judges", "reference", "--baseline", "nope.json"]
    fails_cleanly(argv, workdir, capsys, "--baseline nope.json: no such file and no model of that name in the store")


# ---- 2. an output folder that does not exist: refused before any work ------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--checkpoint", "ckpt", "--out", "missing/dir/o.json"],
        ["data", "dedup", "outputs.json", "--out", "missing/dir/o.jsonl"],
        ["annotate", "export", "--batch", "b", "--format", "labels", "--output", "missing/dir/labels.jsonl"],
        ["train", "--data", "d.jsonl", "--model", "base", "--out", "missing/dir/ckpt"],
        ["sweep", "--data", "d.jsonl", "--sizes", "8", "--model", "base", "--out", "missing/dir/sweep"],
        ["demo", "--out", "missing/dir/demo"],
        ["models", "get", "smollm2", "--out", "missing/dir/smollm2"],
    ],
)
def test_an_out_flag_with_a_missing_folder_is_refused_at_once(
    argv: list[str], workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fails_cleanly(argv, workdir, capsys, "folder missing/dir does not exist")


# ---- 3. a judge endpoint lost mid-job --------------------------------------------------------------


def test_a_judge_endpoint_lost_mid_job_is_exit_1_with_what_was_stored(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The server answers 20 requests, then drops every connection (as a server that died does)."""
    answered = {"n": 0}

    def dies_after_20(body: dict[str, Any]) -> Completion | Hang:
        answered["n"] += 1
        return Completion("Fine.\n4\n4") if answered["n"] <= 20 else Hang(0)

    with FakeOpenAIServer(dies_after_20) as server:
        argv = ["judge", "--judge", "likert", "--outputs", "outputs.json", "--judge-base-url", server.base_url]
        code = main([*argv, "--concurrency", "1", "--http-retries", "0"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "20 judgments stored; re-run to continue" in err and len(err.strip().splitlines()) == 1, err
    assert len(Store("sqlite:///evalkit.db", read_only=True).judgments()) == 20


def test_a_judge_endpoint_unreachable_from_the_start_stays_bad_input(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.generate.server import free_port

    argv = ["judge", "--judge", "likert", "--outputs", "outputs.json", "--judge-base-url", f"http://127.0.0.1:{free_port()}/v1"]
    code = main([*argv, "--http-retries", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach judge endpoint" in err, err


# ---- 4. no partial file after a failed write, a full disk included ---------------------------------


class FullDisk:
    """A text file whose first write stores half its text, then fails as a full disk does."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(text[: len(text) // 2])
        self.inner.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *_: object) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture()
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Calling it makes every file opened for writing (through io.open: Path.open, os.fdopen) a FullDisk."""
    real_open = io.open

    def disk_full_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, mode, *args, **kwargs)
        return FullDisk(handle) if any(flag in mode for flag in "wax") else handle

    return lambda: monkeypatch.setattr(io, "open", disk_full_open)


def test_annotate_export_to_a_full_disk_leaves_no_partial_file(
    workdir: Path, full_disk: Callable[[], None], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Store("sqlite:///evalkit.db").engine.dispose()
    (workdir / "cross.json").write_text("[]\n")  # an earlier export keeps its content
    rows = [{"instruction": "q", "output_1": "a", "output_2": "b", "preference": 1, "annotator": "ann"}]
    monkeypatch.setattr("evalkit.store.label_exchange.export_labels", lambda *_: rows)
    before = files_in(workdir)
    full_disk()
    code = main(["annotate", "export", "--batch", "b", "--format", "alpaca_eval", "-o", "cross.json"])
    err = capsys.readouterr().err
    assert code == 2 and "cross.json" in err and "No space left on device" in err, err
    assert len(err.strip().splitlines()) == 1
    after = {name: data for name, data in files_in(workdir).items() if not name.endswith(("-wal", "-shm"))}
    assert after == before  # (SQLite's side files belong to the store this process still has open)


def test_data_rows_to_a_full_disk_leave_no_temporary_file(workdir: Path, full_disk: Callable[[], None]) -> None:
    from evalkit.core.errors import EvalkitError
    from evalkit.datarecipes.rows import Row, write_rows

    before = files_in(workdir)
    full_disk()
    with pytest.raises((EvalkitError, OSError)):
        write_rows(
            workdir / "out.jsonl", [Row([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], {}, "x")]
        )
    assert files_in(workdir) == before


def test_a_training_run_record_on_a_full_disk_leaves_no_temporary_file(workdir: Path, full_disk: Callable[[], None]) -> None:
    from evalkit.core.errors import EvalkitError
    from evalkit.train.checkpoints import write_run

    (workdir / "ckpt").mkdir()
    full_disk()
    with pytest.raises((EvalkitError, OSError)):
        write_run(workdir / "ckpt", {"status": "running"})
    assert list((workdir / "ckpt").iterdir()) == []
