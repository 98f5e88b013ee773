"""The readers that only a command reaches, fuzzed through the command itself: `agreement --labels`,
`judge-quality --humans` and `annotate import` in both formats. evalkit's main runs in-process (a
subprocess per input would cap a run at a few thousand inputs); an input passes when the command
succeeds, or refuses it with exit code 2 and one line on stderr. A bug's traceback is re-raised by
main itself, and so fails the run with the input that caused it."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

from evalkit.cli.main import main
from evalkit.core.errors import EvalkitError
from tests.fuzz_support import READERS, Reader

FIXTURES = Path(__file__).parent / "fixtures" / "data" / "judge_quality"
BATCH = "team"


def run_in_process(argv: list[str]) -> str:
    """evalkit's stdout for `argv`; EvalkitError (its one line) when it refuses the input with exit 2;
    AssertionError for any other ending: another code, or more than one line about a refusal."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # main returns codes; a handler's sys.exit would end here
            code = exc.code if isinstance(exc.code, int) else 1
    lines = err.getvalue().strip().splitlines()
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("evalkit: error: "), f"exit 2 with: {err.getvalue()!r}"
        raise EvalkitError(lines[0])
    assert code == 0, f"exit {code}: {err.getvalue()!r}"
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return out.getvalue()


def _store_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'labels.db'}"


def _prepare_store(folder: Path) -> tuple[Any, ...]:
    """A store with a pairwise batch `team` of four items and four labels; its exports in both formats
    are the valid documents that mutations start from."""
    from bench.leaderboard_data import populate
    from evalkit.store import Store

    url = _store_url(folder)
    data = populate(Store(url), runs=1, epochs=1, prompts=5, with_decisions=False)
    models = [data.checkpoints[0], data.baselines[0]]
    create = ["annotate", "create", "--models", *models, "--prompts", "bench", "--per-item", "2", "--limit", "4"]
    run_in_process([*create, "--name", BATCH, "--db", url])
    labels = folder / "seed-labels.jsonl"
    seeds = [("alice", "A"), ("alice", "B"), ("bob", "tie"), ("bob", "A")]
    rows = [{"item": f"{BATCH}#{i}", "rater": rater, "label": label} for i, (rater, label) in enumerate(seeds)]
    labels.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    run_in_process(["annotate", "import", str(labels), "--batch", BATCH, "--format", "labels", "--db", url])
    exported = [
        run_in_process(["annotate", "export", "--batch", BATCH, "--format", f, "--db", url]) for f in ("labels", "alpaca_eval")
    ]
    return ([json.loads(line) for line in exported[0].splitlines()], json.loads(exported[1]))


def _import(fmt: str) -> Any:
    def read(path: Path) -> Any:
        argv = ["annotate", "import", str(path), "--batch", BATCH, "--format", fmt, "--db", _store_url(path.parent)]
        return run_in_process(argv)

    return read


def _agreement(path: Path) -> Any:
    return run_in_process(["agreement", "--labels", str(path), "--json"])


def _judge_quality(path: Path) -> Any:
    judge = FIXTURES / "judge_a.jsonl"
    return run_in_process(["judge-quality", "--humans", str(path), "--judge-labels", str(judge), "--resamples", "0", "--json"])


def _fixture_rows(name: str) -> list[Any]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else [json.loads(line) for line in text.splitlines() if line.strip()]


HUMAN_LABELS = [{"item": str(i), "rater": rater, "label": "AB"[i % 2]} for i in range(8) for rater in ("h1", "h2")]
CLI_READERS: tuple[Reader, ...] = (
    Reader("agreement --labels", ".jsonl", "json", _agreement, (HUMAN_LABELS,)),
    Reader(
        "judge-quality --humans",
        ".jsonl",
        "json",
        _judge_quality,
        (
            HUMAN_LABELS,
            _fixture_rows("alpaca_cross.json"),
            _fixture_rows("pandalm_humans.json"),
            _fixture_rows("mtbench_humans.jsonl"),
        ),
    ),
    Reader("annotate import (labels)", ".jsonl", "json", _import("labels"), (), prepare=_prepare_store),
    Reader("annotate import (alpaca_eval)", ".json", "json", _import("alpaca_eval"), (), prepare=_prepare_store),
)
ALL_READERS = READERS + CLI_READERS  # the files' readers called directly, then the commands
