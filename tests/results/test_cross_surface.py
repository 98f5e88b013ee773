"""One store, every surface, the same numbers: every judge kind (LIMA pairwise, Likert with samples,
AlpacaEval, the reference judge and a custom spec), two decoding configurations of the same
checkpoints, human labels and a multi-turn prompt. `run --json`, `pick --json`, `stats summary
--json`, `judge --json`, `agreement --json` and the leaderboard's CSV must agree to 1e-9 on every
figure they share (length-controlled win rates with their standard error, variant and withheld
reason included), and running a second decoding must change none of the first one's figures."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evalkit.cli.main import main
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, last_user_message, varied_logprobs

EARLIER_TURN = "My sourdough starter smells like nail polish remover."
TOLERANCE = 1e-9


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _judge(body: dict[str, Any]) -> Completion:
    """A deterministic judge whose verdicts vary with the texts, so the figures are not all equal."""
    if body.get("logprobs"):
        return varied_logprobs(body)  # type: ignore[return-value]
    text = last_user_message(body)
    if "Output (a)" in text:  # the custom spec
        return Completion(["Output (a)", "Output (b)", "Tie"][_digest(text) % 3])
    if "Answer A" in text:
        return Completion(
            ["Answer A is significantly better.", "Answer B is significantly better.", "Neither is significantly better."][
                _digest(text) % 3
            ]
        )
    grade = 1 + _digest(text + str(len(body["messages"])) + str(body.get("temperature"))) % 6
    return Completion(f"Reasoning.\n{grade}\n{grade}")


def _checkpoints(base: Path, root: Path) -> Path:
    """A training output: epochs 5 and 6 as slightly different copies of the base model."""
    import torch
    from transformers import AutoModelForCausalLM

    for epoch in (5, 6):
        target = root / f"epoch-{epoch}"
        shutil.copytree(base, target)
        model = AutoModelForCausalLM.from_pretrained(target)
        generator = torch.Generator().manual_seed(epoch)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
        model.save_pretrained(target)
    (root / "train_run.json").write_text(json.dumps({"base_model": str(base)}))
    return root


def _files(tmp: Path) -> tuple[Path, Path]:
    prompts = tmp / "prompts.jsonl"
    rows = [
        {"id": f"q{i}", "prompt": f"Give me one tip about topic {i}.", "reference": f"One tip about topic {i} is to start small."}
        for i in range(5)
    ]
    rows.append(
        {
            "id": "multi",
            "reference": "Feed it more often and keep it warmer.",
            "messages": [
                {"role": "system", "content": "You are a patient baker."},
                {"role": "user", "content": EARLIER_TURN},
                {"role": "assistant", "content": "That is acetone from a hungry starter."},
                {"role": "user", "content": "What should I change?"},
            ],
        }
    )
    prompts.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    spec = tmp / "concise.yaml"
    (tmp / "concise.txt").write_text(
        "Which output answers {instruction} more concisely?\nOutput (a): {output_a}\n"
        "Output (b): {output_b}\nReply Output (a), Output (b) or Tie.\n"
    )
    spec.write_text(
        "name: concise\nmode: pairwise\ntemplate: concise.txt\nparse: last_line\n"
        'choices:\n  "Output (a)": A\n  "Output (b)": B\n  "Tie": tie\n'
    )
    return prompts, spec


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def _close(a: float | None, b: float | None) -> bool:
    """Equal to 1e-9; JSON's null and a frame's NaN both mean "no value"."""
    a, b = (None if x is None or x != x else x for x in (a, b))
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= TOLERANCE)


def _text(value: Any) -> str | None:
    """A CSV cell's text; an empty cell (read as NaN) is no text."""
    return None if value is None or value != value else str(value)


@pytest.mark.slow
def test_every_surface_reads_the_same_numbers(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.leaderboard import columns, tables
    from evalkit.leaderboard.snapshot_build import build_snapshot, with_row_figures
    from evalkit.store import Store, annotations

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-cross-surface")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", "off")
    run_dir = _checkpoints(tiny_model_dir, tmp_path / "ckpt")
    prompts, spec = _files(tmp_path)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    with FakeOpenAIServer(_judge) as server:
        judge_flags = ["--judge-base-url", server.base_url, "--judge-model", "fake-judge", "--db", db]
        run_args = [
            "--prompts",
            str(prompts),
            "--judges",
            f"pairwise,likert,alpaca_eval,reference,{spec}",
            "--likert-samples",
            "2",
            "--greedy",
            *judge_flags,
            "--json",
        ]
        first = _cli(capsys, "run", "--checkpoint", str(run_dir), "--epochs", "5-6", "--max-new-tokens", "6", *run_args)
        other = _cli(capsys, "run", "--checkpoint", str(run_dir), "--epochs", "5-6", "--max-new-tokens", "3", *run_args)
        again = _cli(capsys, "run", "--checkpoint", str(run_dir), "--epochs", "5-6", "--max-new-tokens", "6", *run_args)
        # Likert samples are drawn above temperature 0, and the multi-turn prompt reaches the judge whole.
        grading = [
            b
            for b in server.requests
            if "Answer A" not in last_user_message(b) and not b.get("logprobs") and "Output (a)" not in last_user_message(b)
        ]
        assert grading and all(b["temperature"] > 0 for b in grading)
        assert any(EARLIER_TURN in last_user_message(b) for b in server.requests)
        pick = _cli(capsys, "pick", str(run_dir), "--window", "5-6", "--max-new-tokens", "6", *run_args)
        decoding = first[0]["decoding"]
        judged = _cli(
            capsys,
            "judge",
            "--judge",
            "pairwise",
            "--model",
            "ckpt/epoch-5",
            "--decoding",
            decoding,
            "--baseline-model",
            "ckpt/base",
            "--prompts",
            str(prompts),
            *judge_flags,
            "--json",
        )
        # against hand-made answers of 5 and 30 characters: the tiny model's answers (17) lie on both
        # sides of them, so the LC win rate has a number (and a standard error) to compare
        handmade = tmp_path / "handmade.json"
        handmade.write_text(
            json.dumps(
                [
                    {
                        "instruction": f"Give me one tip about topic {i}.",
                        "output": "x" * (5 if i % 2 else 30),
                        "generator": "handmade",
                    }
                    for i in range(5)
                ]
            )
        )
        versus = _cli(
            capsys,
            *("judge", "--judge", "pairwise", "--model", "ckpt/epoch-5", "--decoding", decoding),
            *("--baseline", str(handmade), "--prompts", str(prompts), *judge_flags, "--json"),
        )
    summary = _cli(capsys, "stats", "summary", "--db", db, "--json")

    # Two decodings are two generation sets; the second run changed none of the first one's figures.
    assert {row["decoding"] for row in first} != {row["decoding"] for row in other}
    assert first == again
    run_rows = {row["checkpoint"]: row for row in first}
    assert all(row["status"] == "ok" for row in first)

    # stats summary: every judge kind, rows in both lists, each with its decoding.
    kinds = {row["judge_kind"] for row in summary["pairwise"]}
    assert kinds == {"pairwise", "alpaca_eval", "reference", "concise"}
    assert {row["judge_kind"] for row in summary["likert"]} == {"likert", "reference_likert"}
    assert all(row["decoding"] for row in summary["pairwise"] + summary["likert"])

    def stats_row(section: str, kind: str, model: str, decoding_hash: str) -> dict[str, Any]:
        (row,) = [
            r
            for r in summary[section]
            if r["judge_kind"] == kind
            and r["model"] == model
            and r["decoding"] == decoding_hash
            and r.get("baseline", "ckpt/base") == "ckpt/base"  # epoch-5 is also compared with epoch-6
        ]
        return row

    for name, row in run_rows.items():
        assert _close(row["win_rate"], stats_row("pairwise", "pairwise", name, row["decoding"])["win_rate"])
        assert _close(row["standard_error"], stats_row("pairwise", "pairwise", name, row["decoding"])["standard_error"])
        assert _close(row["likert"], stats_row("likert", "likert", name, row["decoding"])["mean"])

    # pick's evidence is the run table's figures.
    assert pick["decoding"] == decoding
    for evidence in pick["evidence"]:
        row = run_rows[f"ckpt/{evidence['name']}"]
        assert _close(evidence["win_rate"], row["win_rate"]) and _close(evidence["likert_mean"], row["likert"])

    # judge --json: the same figure, and nothing asked again.
    assert judged["requests"] == 0
    assert _close(judged["win_rate"], run_rows["ckpt/epoch-5"]["win_rate"])

    # Human labels on the first decoding's answers; agreement reads them with every judge on the same answers.
    store = Store(db)
    ids = store.models().set_index("name")["id"]
    prompt_set = prompts.stem
    batch, n_items = annotations.create_batch(
        store, "team", int(ids["ckpt/epoch-5"]), int(ids["ckpt/base"]), prompt_set, 2, model_decoding=decoding
    )
    assert n_items == 6
    items = pd.read_sql("SELECT id FROM annotation_items ORDER BY id", store.engine)["id"].tolist()
    for annotator, labels in (("ann", ["A", "B", "tie", "A", "A", "B"]), ("bob", ["A", "A", "tie", "B", "A", "B"])):
        for item, label in zip(items, labels):
            assert annotations.add_label(store, annotator, int(item), label, source="test")
    agreement = _cli(capsys, "agreement", "--db", db, "--json")
    raters = {r for pair in agreement["pairs"] for r in (pair["rater_a"], pair["rater_b"])}
    assert {"ann", "bob", "pairwise:fake-judge", "alpaca_eval:fake-judge", "concise:fake-judge"} <= raters

    # Length-controlled win rates: run, stats summary and judge carry the same value, standard error,
    # variant, and reason when withheld.
    lc_fields = ("length_controlled_winrate", "lc_standard_error")
    for name, row in run_rows.items():
        stats = stats_row("pairwise", "pairwise", name, row["decoding"])
        assert all(_close(row[field], stats[field]) for field in lc_fields)
        assert row["lc_variant"] == stats["lc_variant"] == "length_controlled_minimal"
        assert row["lc_withheld"] == stats["lc_withheld"]
        assert (row["length_controlled_winrate"] is None) == (row["lc_withheld"] is not None)  # a number or a reason
    epoch5 = run_rows["ckpt/epoch-5"]
    assert all(_close(judged[field], epoch5[field]) for field in lc_fields) and judged["lc_withheld"] == epoch5["lc_withheld"]
    (between,) = [r for r in summary["pairwise"] if r["judge_kind"] == "pairwise" and r["baseline"] == "handmade"]
    assert between["lc_withheld"] is None and between["lc_standard_error"] > 0
    assert all(_close(versus[field], between[field]) for field in lc_fields) and versus["lc_variant"] == between["lc_variant"]

    # The leaderboard: its snapshot's per-judge figures and its CSV download equal the CLI's.
    snapshot = with_row_figures(build_snapshot(store, "token"))
    judge_bias = {row["rater"]: row for row in agreement["judges"]}
    for row in snapshot.judge_bias.to_dict(orient="records"):
        assert _close(row["prefer_longer"], judge_bias[row["rater"]]["prefer_longer"])
    pairwise_key = next(k for k in tables.judge_keys(snapshot.pairwise_summary, "verdict") if k.kind == "pairwise")
    alpaca_key = tables.judge_keys(snapshot.pairwise_summary, "preference")[0]
    likert_key = next(k for k in tables.judge_keys(snapshot.likert_summary) if k.kind == "likert")
    base_decoding = stats_row("pairwise", "pairwise", "ckpt/epoch-5", decoding)["baseline_decoding"]
    selection = tables.Selection("All prompts", (int(ids["ckpt/base"]), base_decoding), pairwise_key, alpaca_key, likert_key)
    board = tables.leaderboard_rows(snapshot, selection)
    csv = pd.read_csv(io.StringIO(columns.titled(board, columns.shown_columns(board)).to_csv(index=False)))
    for name, row in run_rows.items():
        (line,) = csv[(csv["Model"] == name) & (csv["Decoding hash"] == row["decoding"])].to_dict(orient="records")
        assert _close(line["Pairwise WR"], row["win_rate"]) and _close(line["Likert"], row["likert"])
        alpaca = stats_row("pairwise", "alpaca_eval", name, row["decoding"])
        assert _close(line["AlpacaEval WR"], alpaca["win_rate"])
        for prefix, stats in (("Pairwise LC", stats_row("pairwise", "pairwise", name, row["decoding"])), ("LC", alpaca)):
            assert _close(line.get(f"{prefix} WR"), stats["length_controlled_winrate"])
            assert _close(line.get(f"{prefix} ± SE"), stats["lc_standard_error"])
            assert line.get(f"{prefix} variant") == stats["lc_variant"]
        assert _text(line.get("Pairwise LC withheld")) == row["lc_withheld"]
        assert _text(line.get("AE LC withheld")) == alpaca["lc_withheld"]
    assert len(csv[csv["Model"] == "ckpt/epoch-5"]) == 2  # one row per decoding, never a mix
    against_handmade = replace(selection, baseline=(int(ids["handmade"]), between["baseline_decoding"]))
    board = tables.leaderboard_rows(snapshot, against_handmade)
    mine = (board["decoding"] == decoding) & (board["model"] == "ckpt/epoch-5")
    (line,) = columns.titled(board, columns.shown_columns(board))[mine].to_dict(orient="records")
    assert _close(line["Pairwise LC WR"], between["length_controlled_winrate"])
    assert _close(line["Pairwise LC ± SE"], between["lc_standard_error"]) and _text(line.get("Pairwise LC withheld")) is None
