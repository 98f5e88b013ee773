"""`evalkit report`'s bad input (a folder that is not a report, a file, a missing store, an unknown run:
one line, exit 2, nothing written or created), --force, an empty store, and what the written folder
may not hold (a reference the browser would fetch)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evalkit.cli.main import main
from evalkit.report.render import ASSETS, DATA_JS, DATA_JSON
from evalkit.store import Store

SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # an XML namespace name in report.js: an identifier, never fetched


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("evalkit: error: "), err
    return err[0]


def test_a_folder_that_is_not_a_report_is_refused_and_left_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "evalkit.db"
    Store(f"sqlite:///{db}")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (out / "data.json").write_text('{"format": "something else"}')
    before = _tree(out)
    assert main(["report", "--db", f"sqlite:///{db}", "--out", str(out)]) == 2
    line = _one_error_line(capsys)
    assert "not an evalkit report" in line and "--force" in line
    assert _tree(out) == before


def test_a_file_as_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.html"
    target.write_text("mine")
    assert main(["report", "--db", f"sqlite:///{tmp_path / 'missing.db'}", "--out", str(target), "--force"]) == 2
    assert "is a file" in _one_error_line(capsys)
    assert target.read_text() == "mine"


def test_a_missing_store_is_one_line_and_nothing_is_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "missing.db", tmp_path / "report"
    assert main(["report", "--db", f"sqlite:///{db}", "--out", str(out)]) == 2
    assert "missing.db" in _one_error_line(capsys)
    assert not db.exists() and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_unknown_run_names_the_runs_there_are(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "evalkit.db", tmp_path / "report"
    Store(f"sqlite:///{db}")
    assert main(["report", "--db", f"sqlite:///{db}", "--out", str(out), "--run", "nosuch"]) == 2
    assert "no training run 'nosuch'" in _one_error_line(capsys)
    assert not out.exists()


def test_an_empty_store_gives_a_report_and_a_report_is_rewritten_in_place(tmp_path: Path) -> None:
    db, out = tmp_path / "evalkit.db", tmp_path / "report"
    # closed before its bytes are read: an open store's WAL is folded into the file when it closes,
    # whenever the garbage collector gets to it
    Store(f"sqlite:///{db}").close()
    store_bytes = db.read_bytes()
    assert main(["report", "--db", f"sqlite:///{db}", "--out", str(out)]) == 0
    assert {*ASSETS, DATA_JS, DATA_JSON} == set(_tree(out))
    data = json.loads((out / DATA_JSON).read_text())
    assert data["format"] == "evalkit-report" and data["prompts"] == [] and data["checkpoints"] == []
    assert (out / DATA_JS).read_text().startswith("window.EVALKIT_REPORT = ")
    # an earlier report is not "other files": written again without --force; --force works over it too
    assert main(["report", "--db", f"sqlite:///{db}", "--out", str(out)]) == 0
    assert main(["report", "--db", f"sqlite:///{db}", "--out", str(out), "--force"]) == 0
    assert db.read_bytes() == store_bytes  # read-only: the store is not changed


def test_force_writes_beside_other_files_and_keeps_them(tmp_path: Path) -> None:
    db, out = tmp_path / "evalkit.db", tmp_path / "site"
    Store(f"sqlite:///{db}")
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["report", "--db", f"sqlite:///{db}", "--out", str(out), "--force"]) == 0
    assert (out / "notes.txt").read_text() == "keep me" and (out / "index.html").exists()


def test_the_page_fetches_nothing_from_elsewhere() -> None:
    """No URL a browser would fetch: the page, script and style name only files beside them."""
    from importlib.resources import files

    for name in ASSETS:
        text = files("evalkit.report").joinpath("assets", name).read_text(encoding="utf-8")
        assert re.findall(r"https?://[^\s\"')]+", text.replace(SVG_NAMESPACE, "")) == [], name
        assert not re.search(r"(src|href)\s*=\s*[\"']//", text), name  # protocol-relative
        assert "fetch(" not in text and "XMLHttpRequest" not in text and "@import" not in text and "url(" not in text, name
    page = files("evalkit.report").joinpath("assets", "index.html").read_text(encoding="utf-8")
    assert set(re.findall(r"(?:src|href)=\"([^\"#]+)\"", page)) == {"report.css", "data.js", "report.js"}
