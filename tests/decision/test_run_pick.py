"""End to end: train -> generate -> judge -> pick on a tiny model, plus `evalkit run`'s bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit.jobs.demo import DemoSettings, run_demo
from evalkit.store import Store
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoSettings, dict]:
    out = tmp_path_factory.mktemp("demo")
    settings = DemoSettings(
        out=out, epochs=3, window=(2, 3), hidden_size=32, layers=2, vocab_size=512, max_new_tokens=12, dialogs_limit=24
    )
    return settings, run_demo(settings, log=lambda *_: None)


@pytest.mark.slow
def test_small_demo_trains_evaluates_and_picks(small_demo: tuple[DemoSettings, dict]) -> None:
    settings, decision = small_demo
    run_dir = settings.out / "ckpt"
    assert decision["chosen"] in ("epoch-2", "epoch-3") and decision["epoch"] in (2, 3)
    assert json.loads((run_dir / "picked.json").read_text())["chosen"] == decision["chosen"]
    assert (run_dir / "best").resolve() == (run_dir / decision["chosen"]).resolve()
    assert {row["epoch"] for row in decision["evidence"]} == {2, 3}
    assert decision["judge"] == "reference" and decision["baseline"] == "ckpt/base"
    store = Store(decision["db_url"])
    stored = store.decisions()
    assert stored.iloc[-1]["chosen_name"] == decision["chosen"] and stored.iloc[-1]["policy"] == "winrate-likert-earliest"
    assert {"ckpt/base", "ckpt/epoch-2", "ckpt/epoch-3"} <= set(store.models()["name"])


@pytest.mark.slow
def test_pick_cli_contract_and_rerun_does_no_new_work(small_demo: tuple[DemoSettings, dict]) -> None:
    settings, decision = small_demo
    store = Store(decision["db_url"])
    before = (len(store.generations()), len(store.judgments()))
    result = run_cli(
        "pick", str(settings.out / "ckpt"), "--window", "2-3", "--max-new-tokens", "12", "--db", decision["db_url"], "--json"
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["chosen"] == decision["chosen"] and printed["epoch"] == decision["epoch"]
    written = json.loads((settings.out / "ckpt" / "picked.json").read_text())
    assert written["chosen"] == printed["chosen"] and written["epoch"] == printed["epoch"]
    assert (len(store.generations()), len(store.judgments())) == before


@pytest.mark.slow
def test_run_skips_a_corrupt_checkpoint_and_completes_the_others(small_demo: tuple[DemoSettings, dict], tmp_path: Path) -> None:
    settings, decision = small_demo
    run_dir = tmp_path / "ckpt"
    for epoch in (2, 3):
        shutil.copytree(settings.out / "ckpt" / f"epoch-{epoch}", run_dir / f"epoch-{epoch}")
    weights = run_dir / "epoch-2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    result = run_cli(
        "run",
        "--checkpoint",
        str(run_dir),
        "--epochs",
        "2-3",
        "--baseline",
        "ckpt/base",
        "--max-new-tokens",
        "12",
        "--db",
        decision["db_url"],
    )
    assert result.returncode == 1, result.stderr
    assert "skipped: checkpoint" in result.stdout and "corrupt weights" in result.stdout
    assert "ckpt/epoch-3" in result.stdout and "evalkit leaderboard --db" in result.stdout


@pytest.mark.parametrize("layout", ["empty", pytest.param("no-epochs", marks=pytest.mark.slow)])  # child processes
def test_run_and_pick_refuse_directories_without_checkpoints(tmp_path: Path, layout: str) -> None:
    target = tmp_path / "run"
    target.mkdir()
    if layout == "no-epochs":
        (target / "notes.txt").write_text("no checkpoints here")
        (target / "epoch-x").mkdir()
    for command in (["run", "--checkpoint", str(target)], ["pick", str(target)]):
        result = run_cli(*command, "--db", f"sqlite:///{tmp_path / 'x.db'}")
        assert result.returncode == 2
        assert result.stderr.strip().splitlines()[-1].startswith("evalkit: error:") and "epoch-N" in result.stderr


@pytest.mark.slow  # a child process
def test_reference_judge_refuses_the_references_as_its_own_baseline(tiny_model_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    result = run_cli("run", "--checkpoint", str(tiny_model_dir), "--judges", "reference", "--db", f"sqlite:///{db}")
    assert result.returncode == 2 and "cannot also be its baseline" in result.stderr
    assert Store(f"sqlite:///{db}").models().empty  # nothing half-written


def test_demo_help_states_what_the_demo_presets_do(capsys: pytest.CaptureFixture[str]) -> None:
    """`evalkit demo --help` names the epochs it evaluates (all of them), the window it picks from and
    the prompts, as evalkit.jobs.demo's presets set them; so does its line in `evalkit --help`."""
    from evalkit.cli.main import main
    from evalkit.jobs.demo import SMOLLM2_DEMO

    tiny, smol = DemoSettings(), SMOLLM2_DEMO
    assert main(["demo", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"epochs 1-{tiny.epochs} for the tiny model" in text
    assert f"SmolLM2: epochs 1-{smol.epochs} on the first {smol.prompts_limit} prompts" in text
    assert f"window ({min(tiny.window)}-{max(tiny.window)}; SmolLM2: {min(smol.window)}-{max(smol.window)})" in text
    assert main(["--help"]) == 0
    listing = " ".join(capsys.readouterr().out.split())
    assert (
        f"train a tiny model {tiny.epochs} epochs, evaluate every epoch, pick the best of {min(tiny.window)}-{max(tiny.window)}"
        in listing
    )


@pytest.mark.slow
def test_pick_record_is_one_serialisation_everywhere(small_demo: tuple[DemoSettings, dict]) -> None:
    """picked.json, `pick --json`, the store's decision and what the Checkpoints page reads are the
    same record (PickEvidence.as_dict), key for key and value for value, with the keys users rely on."""
    from evalkit.decision.evidence import stored_record

    settings, decision = small_demo
    run_dir = settings.out / "ckpt"
    result = run_cli("pick", str(run_dir), "--window", "2-3", "--max-new-tokens", "12", "--db", decision["db_url"], "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    written = json.loads((run_dir / "picked.json").read_text())
    stored = Store(decision["db_url"]).decisions().iloc[-1]
    shown = stored_record(stored["evidence"])
    assert printed == written == shown
    assert {"chosen", "epoch", "model_id", "run", "judge", "baseline", "prompt_set", "decoding", "window"} <= set(printed)
    assert {"evidence", "significance", "provenance", "reason", "decided", "likert_judge", "judge_spec_hash"} <= set(printed)
    assert (stored["chosen_name"], stored["epoch"]) == (printed["chosen"], printed["epoch"])
    assert printed["run"] == str(run_dir.resolve()) and printed["window"] == [2, 3]
    # the power guidance: from the same best-vs-runner-up comparison as `significance`
    power, significance = printed["power"], printed["significance"]
    assert set(power) == {
        "best",
        "runner_up",
        "difference",
        "sd",
        "n",
        "prompts_needed",
        "more_prompts",
        "power",
        "level",
        "reason",
        # the human-label guidance (null without human labels on the best and the runner-up)
        "combined_difference",
        "combined_standard_error",
        "human_labels_needed",
        "more_human_labels",
        "human_labels_reason",
    }
    assert (power["best"], power["runner_up"], power["n"]) == (significance["best"], significance["runner_up"], significance["n"])
    assert power["difference"] == significance["difference"] and (power["power"], power["level"]) == (0.8, significance["level"])
    if power["prompts_needed"] is None:
        assert power["reason"] and power["more_prompts"] is None
    else:
        assert power["more_prompts"] == max(0, power["prompts_needed"] - power["n"]) and power["reason"] is None
