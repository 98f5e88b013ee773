"""One store with human labels, every surface, the same combined (human + judge) win rate: `run --json`,
`pick --json` (both policies), `stats summary --json` and the leaderboard's rows agree to 1e-9 with the
results layer's figure; `pick --policy combined-likert-earliest` refuses, before any work, a store
without human labels."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evalkit.cli.main import main
from evalkit.decision.policy_names import COMBINED_POLICY
from evalkit.results.combined import store_combined
from tests.fixtures.fake_openai_server import Completion, FakeOpenAIServer, last_user_message
from tests.results.test_cross_surface import _checkpoints

TOLERANCE = 1e-9
LABELS = ["A", "B", "tie", "A", "B", "A", "tie", "B"]


def _judge(body: dict[str, Any]) -> Completion:
    """A deterministic pairwise judge whose verdicts vary with the texts."""
    digest = int(hashlib.sha256(last_user_message(body).encode()).hexdigest()[:8], 16)
    return Completion(
        ["Answer A is significantly better.", "Answer B is significantly better.", "Neither is significantly better."][digest % 3]
    )


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def _close(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= TOLERANCE


@pytest.mark.slow
def test_every_surface_shows_the_same_combined_win_rate(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalkit.leaderboard import tables
    from evalkit.leaderboard.snapshot_build import build_snapshot
    from evalkit.store import Store, annotations

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-combined")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", "off")
    run_dir = _checkpoints(tiny_model_dir, tmp_path / "ckpt")
    prompts = tmp_path / "prompts.jsonl"
    rows = [{"id": f"q{i}", "prompt": f"Name one thing about topic {i}.", "reference": f"Topic {i} is wide."} for i in range(8)]
    prompts.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    with FakeOpenAIServer(_judge) as server:
        flags = ["--prompts", str(prompts), "--judges", "pairwise", "--greedy", "--max-new-tokens", "6"]
        flags += ["--judge-base-url", server.base_url, "--judge-model", "fake-judge", "--db", db, "--json"]
        first = _cli(capsys, "run", "--checkpoint", str(run_dir), "--epochs", "5-6", *flags)
        assert all("combined" not in row for row in first)  # no human labels: nothing extra
        requests = len(server.requests)
        capsys.readouterr()
        assert main(["pick", str(run_dir), "--window", "5-6", "--policy", COMBINED_POLICY, *flags]) == 2
        assert "ranks on human labels and the store has none" in capsys.readouterr().err
        assert not (run_dir / "picked.json").exists() and len(server.requests) == requests

        store = Store(db)
        ids = store.models().set_index("name")["id"]
        for offset, epoch in enumerate((5, 6)):
            batch, n_items = annotations.create_batch(
                store, f"team-{epoch}", int(ids[f"ckpt/epoch-{epoch}"]), int(ids["prompts-reference"]), prompts.stem, 2
            )
            assert n_items == 8
            for annotator, shift in (("ann", 0), ("bob", 1 + offset)):
                while (item := annotations.next_item(store, batch, annotator)) is not None:
                    label = LABELS[(item.position + shift) % len(LABELS)]
                    assert annotations.add_label(store, annotator, item.item_id, label, source="test")
        again = _cli(capsys, "run", "--checkpoint", str(run_dir), "--epochs", "5-6", *flags)
        pick = _cli(capsys, "pick", str(run_dir), "--window", "5-6", *flags)
        combined_pick = _cli(capsys, "pick", str(run_dir), "--window", "5-6", "--policy", COMBINED_POLICY, *flags)
        assert len(server.requests) == requests  # the labels changed figures, not work
    summary = _cli(capsys, "stats", "summary", "--db", db, "--json", "--resamples", "20", "--no-length-controlled")

    expected = store_combined(Store(db)).set_index(["judge_kind", "model_id", "baseline_id"])
    base = int(ids["prompts-reference"])
    for row in again:
        model_id = int(ids[row["checkpoint"]])
        reference = expected.loc[("pairwise", model_id, base)]
        assert row["n_humans"] == reference["n_humans"] == 8
        assert all(_close(row[c], reference[c]) for c in ("combined", "combined_ci_low", "combined_ci_high"))
        assert _close(row["win_rate"], next(r for r in first if r["checkpoint"] == row["checkpoint"])["win_rate"])
        (stats,) = [
            r
            for r in summary["pairwise"]
            if r["judge_kind"] == "pairwise" and r["model_id"] == model_id and r["baseline_id"] == base
        ]
        assert all(_close(stats[c], row[c]) for c in ("combined", "combined_ci_low", "combined_ci_high"))
        for decision in (pick, combined_pick):
            (evidence,) = [e for e in decision["evidence"] if f"ckpt/{e['name']}" == row["checkpoint"]]
            assert all(_close(evidence[c], stats[c]) for c in ("combined", "combined_ci_low", "human_only", "ppi_lambda"))
            assert evidence["n_humans"] == 8
    assert combined_pick["policy"] == COMBINED_POLICY
    by_combined = max(combined_pick["evidence"], key=lambda e: (e["combined"], -e["epoch"]))
    assert combined_pick["best_by_win_rate"] == by_combined["name"]
    power = combined_pick["power"]
    assert power["combined_difference"] is not None
    assert (power["human_labels_needed"] is None) == (power["human_labels_reason"] is not None)

    # the leaderboard's rows carry the same figure beside the judge-only one
    snapshot = build_snapshot(Store(db), "token")
    key = tables.judge_keys(snapshot.pairwise_summary, "verdict")[0]
    (base_decoding,) = snapshot.pairwise_summary["baseline_decoding"].unique()
    board = tables.leaderboard_rows(snapshot, tables.Selection("All prompts", (base, base_decoding), key, None, None))
    for row in again:
        (line,) = board[board["model"] == row["checkpoint"]].to_dict(orient="records")
        assert _close(line["pw_combined"], row["combined"]) and _close(line["pw_combined_high"], row["combined_ci_high"])
        assert line["pw_n_humans"] == 8 and pd.notna(line["pw_se"])
