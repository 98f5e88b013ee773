"""The base install (`pip install evalkit`, no extras): what it must do without torch, transformers, vLLM,
Ray, TRL or GGUF, and the one line a command prints when it needs an extra.

The commands run in a child process that then lists which heavy engines it imported: none may be,
even where they are installed (the development venv), so the same test holds for the light venv
(`make test-light`, CI) and cannot pass there only because the packages are absent. Answers come from
a served model (`--backend openai`) and verdicts from a scripted judge server: nothing is generated
in-process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.main import main
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer
from tests.helpers import write_prompts

HEAVY = ("torch", "transformers", "vllm", "ray", "trl", "gguf", "accelerate")
SHOWN = re.compile(r"Answer A:\n(.*)\n\nAnswer B:\n(.*)\n\nComparing", re.DOTALL)
# Runs each command in one interpreter, then prints the heavy modules it imported.
CHILD = """
import json, sys
from evalkit.cli.main import main
for args in json.loads(sys.argv[1]):
    code = main(args)
    if code != 0:
        sys.exit(f"exit {code}: {args}")
print(json.dumps(sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)))
"""


def _reply(body: dict[str, Any]) -> Completion:
    """Answers: as long as the epoch number says (the served model's name is the checkpoint path);
    verdicts: the longer shown answer."""
    text = body["messages"][-1]["content"]
    shown = SHOWN.search(text)
    if shown is None:
        epoch = int(re.search(r"epoch-(\d+)", body["model"]).group(1)) if "epoch-" in body["model"] else 1  # type: ignore[union-attr]
        return Completion("word " * epoch + "answer")
    first, second = shown.groups()
    if len(first) == len(second):
        return Completion("Neither is significantly better.")
    return Completion(f"Answer {'A' if len(first) > len(second) else 'B'} is significantly better.")


def _checkpoint(path: Path) -> Path:
    """A directory that passes the checkpoint checks (config, a safetensors header, a tokenizer) without
    being loadable: the served model answers for it."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama", "name": path.name}))
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (path / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0\0\0")
    (path / "tokenizer.json").write_text("{}")
    return path


@pytest.mark.slow  # a child interpreter running several commands against a real HTTP server
def test_light_commands_import_no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    run = tmp_path / "run"
    for epoch in (5, 6, 7):
        _checkpoint(run / f"epoch-{epoch}")
    prompts = write_prompts(tmp_path / "prompts.jsonl", 6)
    baseline = tmp_path / "baseline.json"
    rows = [json.loads(line) for line in prompts.read_text().splitlines()]
    baseline.write_text(json.dumps([{"instruction": r["prompt"], "output": "word answer", "generator": "base"} for r in rows]))
    db = f"sqlite:///{tmp_path / 'light.db'}"
    with FakeOpenAIServer(_reply) as server:
        url = server.base_url
        judge = ["--judges", "pairwise", "--judge-base-url", url, "--judge-model", "m"]
        engine = ["--backend", "openai", "--base-url", url, "--prompts", str(prompts), "--max-new-tokens", "8"]
        commands = [
            ["pick", str(run), *engine, *judge, "--baseline", str(baseline), "--db", db, "--json"],
            ["stats", "summary", "--db", db],
            ["agreement", "--db", db],
            ["annotate", "create", "--models", "run/epoch-7", "base", "--prompts", "prompts", "--per-item", "2", "--db", db],
            ["annotate", "status", "--db", db],
            ["report", "--db", db, "--out", str(tmp_path / "report")],
        ]
        child = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(commands), json.dumps(HEAVY)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).parents[2],
        )
    assert child.returncode == 0, child.stderr[-2000:]
    loaded = json.loads(child.stdout.strip().splitlines()[-1])
    assert loaded == [], f"the base install's commands imported {loaded}"
    picked = json.loads((run / "picked.json").read_text())
    # every epoch's answer is longer than the baseline's, so the longer-answer judge gives each 100%: tied
    assert [row["win_rate"] for row in picked["evidence"]] == [100.0, 100.0, 100.0] and picked["chosen"] == "epoch-5"
    assert (tmp_path / "report" / "index.html").is_file()


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["demo"], "[hf]"),
        (["models", "get", "smollm2"], "[hf]"),
        (["train", "--data", "d.jsonl", "--model", "m", "--out", "o"], "[train]"),
        (["generate", "--checkpoint", "m", "--prompts", "dev"], "[hf]"),
        (["generate", "--checkpoint", "m", "--prompts", "dev", "--backend", "vllm"], "[vllm]"),
    ],
)
def test_a_missing_extra_is_one_line(
    args: list[str], extra: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As if torch, transformers, trl and vllm were not installed: one line naming the extra, exit 2,
    nothing written."""
    import importlib.util

    real = importlib.util.find_spec
    absent = {"torch", "transformers", "trl", "vllm"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in absent else real(name, *a))
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--db", f"sqlite:///{tmp_path / 'x.db'}"] if args[0] != "models" else args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and extra in err[0] and "pip install 'evalkit" in err[0], err
    assert list(tmp_path.iterdir()) == []
