"""`evalkit stats` and `evalkit agreement`: the JSON contracts, store-backed subcommands (judge tables
stubbed with hand-built frames), and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.cli.main import main
from evalkit.stats.agreement import pair_agreement, vs_mode
from evalkit.stats.winrate import WINRATE_FIELDS
from tests.helpers import ALPACA_EVAL_DATA

DATA = ALPACA_EVAL_DATA


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_winrate_json_contract_reproduces_the_leaderboard(capsys: pytest.CaptureFixture[str]) -> None:
    if not DATA.is_dir():
        pytest.skip(f"AlpacaEval reference data not available at {DATA}")
    for annotator in ("alpaca_eval_gpt4", "weighted_alpaca_eval_gpt4_turbo"):
        out = run_json(
            capsys, "stats", "winrate", "--annotations", str(DATA / f"alpaca-7b.{annotator}.annotations.json"), "--json"
        )
        published = pd.read_csv(DATA / f"leaderboard_rows.{annotator}.csv", index_col=0).loc["alpaca-7b"]
        assert list(out) == list(WINRATE_FIELDS)
        for field in WINRATE_FIELDS:
            assert abs(out[field] - float(published[field])) <= 1e-9


def test_winrate_text_and_length_controlled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    rows = [
        {
            "instruction": f"q{i}",
            "output_1": "x" * int(rng.integers(50, 500)),
            "output_2": "y" * int(rng.integers(50, 500)),
            "generator_1": "base",
            "generator_2": "mine",
            "preference": float(rng.choice([1, 1.5, 2])),
        }
        for i in range(60)
    ]
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(rows))
    out = run_json(capsys, "stats", "winrate", "--annotations", str(path), "--length-controlled", "--json")
    assert out["lc_variant"] == "length_controlled_minimal" and 0 <= out["length_controlled_winrate"] <= 100
    assert out["lc_standard_error"] > 0 and out["lc_withheld"] is None
    assert main(["stats", "winrate", "--annotations", str(path)]) == 0
    assert "win rate" in capsys.readouterr().out
    assert main(["stats", "winrate", "--annotations", str(path), "--length-controlled"]) == 0
    text = capsys.readouterr().out
    assert f"length-controlled {out['length_controlled_winrate']:.1f}" in text  # shown with its SE and formulation
    assert "(standard error; alpaca_eval GLM, length_controlled_minimal)" in text
    for row in rows:  # the model's answers shorter on every pair: no number, the reason instead
        row["output_2"] = row["output_1"][:-10]
    path.write_text(json.dumps(rows))
    out = run_json(capsys, "stats", "winrate", "--annotations", str(path), "--length-controlled", "--json")
    assert out["length_controlled_winrate"] is None and out["lc_standard_error"] is None
    assert "shorter than the baseline's on 100% of pairs" in out["lc_withheld"]
    assert main(["stats", "winrate", "--annotations", str(path), "--length-controlled"]) == 0
    assert "length-controlled win rate withheld: length difference one-sided" in capsys.readouterr().out


def _labels_file(tmp_path: Path) -> Path:
    rows = [
        ("q1", "ann", "A"),
        ("q1", "bob", "A"),
        ("q1", "gpt", "B"),
        ("q2", "ann", "tie"),
        ("q2", "bob", "B"),
        ("q2", "gpt", "B"),
        ("q3", "ann", "B"),
        ("q3", "bob", "B"),
        ("q3", "gpt", "B"),
        (4, "ann", "A"),
        (4, "gpt", "tie"),
    ]
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(json.dumps({"item": i, "rater": r, "label": label}) for i, r, label in rows))
    return path


def test_agreement_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _labels_file(tmp_path)
    out = run_json(capsys, "agreement", "--labels", str(path), "--json")
    assert set(out) == {"pairs", "vs_mode"}
    assert [(p["rater_a"], p["rater_b"]) for p in out["pairs"]] == [("ann", "bob"), ("ann", "gpt"), ("bob", "gpt")]
    for pair in out["pairs"]:
        assert set(pair) == {"rater_a", "rater_b", "n", "tie_discounted", "agreement", "agreement_without_ties", "cohen_kappa"}
    ann_gpt = out["pairs"][1]
    expected = pair_agreement(["A", "tie", "B", "A"], ["B", "B", "B", "tie"])
    assert ann_gpt["n"] == 4 and ann_gpt["tie_discounted"] == pytest.approx(expected["tie_discounted"])
    frame = pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    assert out["vs_mode"] == pytest.approx(vs_mode(frame))
    assert main(["agreement", "--labels", str(path)]) == 0
    assert "tie-discounted" in capsys.readouterr().out


def test_compare_and_ranking_from_annotation_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    paths = []
    for name, p in (("good", 0.7), ("bad", 0.3)):
        rows = [
            {"instruction": f"q{i}", "generator_1": "base", "generator_2": name, "preference": 2.0 if rng.uniform() < p else 1.0}
            for i in range(200)
        ]
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(rows))
    out = run_json(capsys, "stats", "compare", "--annotations", str(paths[0]), str(paths[1]), "--resamples", "2000", "--json")
    assert out["n"] == 200 and out["difference"] > 20 and out["ci_low"] > 0 and out["p_sign"] < 1e-6
    ranking = run_json(capsys, "stats", "ranking", "--annotations", *map(str, paths), "--resamples", "200", "--json")
    assert [row["model"] for row in ranking] == ["good", "base", "bad"]


def test_user_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "winrate", "--annotations", str(tmp_path / "missing.json")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"item": 1, "rater": "x", "label": "maybe"}))
    assert main(["agreement", "--labels", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "label must be A, B or tie" in err and err.count("\n") == 1
    no_pref = tmp_path / "nopref.json"
    no_pref.write_text(json.dumps([{"instruction": "q"}]))
    assert main(["stats", "winrate", "--annotations", str(no_pref)]) == 2
    assert "preference" in capsys.readouterr().err
    assert main(["stats", "compare"]) == 2
    assert main(["stats", "summary", "--resamples", "0", "--db", "sqlite://"]) == 2


def test_summary_text_withholds_an_extrapolated_lc_win_rate(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Answers shorter than the baseline's on 90% of pairs (the tiny demo's shape): the table shows no
    LC number and gives the reason, its standard error and variant columns beside it."""
    from evalkit.results import summary, tables
    from evalkit.store import Store
    from tests.stats.test_stats_summary import pairwise_table

    Store(db_url).engine.dispose()
    table = pairwise_table(40)
    table = table[table["judge_model"] == "gpt-4"].reset_index(drop=True)
    shorter = (table["prompt_hash"] < "p036") | (table["model_id"] == 2)  # epoch-5: 36 of 40 prompts; epoch-7: all
    table["model_len"] = np.where(shorter, table["baseline_len"] - 30, table["baseline_len"] + 30)
    monkeypatch.setattr(summary, "read_tables", lambda *a, **k: tables.Tables(table, pd.DataFrame(), pd.DataFrame()))
    assert main(["stats", "summary", "--db", db_url, "--resamples", "50"]) == 0
    text = capsys.readouterr().out
    lc_section = text[text.index("== length-controlled win rates") :]
    assert "lc_standard_error" in lc_section and "lc_variant" in lc_section and "lc_withheld" in lc_section
    assert "shorter than the baseline's on 90% of pairs" in lc_section
    assert "shorter than the baseline's on 100% of pairs" in lc_section


@pytest.fixture()
def stubbed_store(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    """The judges' result tables replaced by hand-built frames of the same shape, over an existing
    (empty) store: `stats` only reads stores."""
    from evalkit.results import summary, tables
    from evalkit.store import Store

    Store(db_url).engine.dispose()

    from tests.stats.test_stats_summary import likert_table, pairwise_table

    def stub(store: object, instructions: bool = True, kinds: object = None) -> tables.Tables:
        return tables.Tables(pairwise_table(40), pd.DataFrame(), likert_table().assign(decoding="d1"))

    monkeypatch.setattr(tables, "read_tables", stub)
    monkeypatch.setattr(summary, "read_tables", stub)
    return db_url


def test_summary_compare_and_ranking_from_the_store(stubbed_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    summary = run_json(capsys, "stats", "summary", "--db", stubbed_store, "--resamples", "200", "--json")
    assert len(summary["pairwise"]) == 4 and len(summary["likert"]) == 2
    assert {"win_rate", "ci_low", "length_controlled_winrate", "win_pct"} <= set(summary["pairwise"][0])
    assert all(row["lc_standard_error"] > 0 and row["lc_variant"] == "length_controlled_minimal" for row in summary["pairwise"])
    compared = run_json(
        capsys,
        "stats",
        "compare",
        "--db",
        stubbed_store,
        "--model",
        "ckpt/epoch-7",
        "--model",
        "ckpt/epoch-5",
        "--resamples",
        "200",
        "--json",
    )
    assert len(compared["pairwise"]) == 2 and len(compared["likert"]) == 1
    ranking = run_json(capsys, "stats", "ranking", "--db", stubbed_store, "--resamples", "100", "--json")
    assert {row["judge_model"] for row in ranking} == {"gpt-4", "local"}
    assert main(["stats", "summary", "--db", stubbed_store, "--resamples", "50"]) == 0
    assert "likert" in capsys.readouterr().out
    assert main(["stats", "compare", "--db", stubbed_store, "--model", "nobody", "--model", "ckpt/epoch-5"]) == 2


def test_agreement_from_the_store(
    stubbed_store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from evalkit.store import annotations
    from tests.stats.test_stats_summary import pairwise_table

    judged = pairwise_table(40)
    gpt = judged[(judged["judge_model"] == "gpt-4") & (judged["model_id"] == 2)].head(10)
    shown = {"win": "A", "loss": "B", "tie": "tie"}
    rows = []
    for item, judgment in enumerate(gpt.itertuples(index=False)):
        if judgment.outcome == "invalid":
            continue
        order = "AB" if item % 2 == 0 else "BA"  # the human saw the model first on even items
        agree = shown[judgment.outcome] if order == "AB" else {"A": "B", "B": "A", "tie": "tie"}[shown[judgment.outcome]]
        for annotator in ("ann", "bob"):
            rows.append(
                {
                    "annotator": annotator,
                    "item_id": item,
                    "label": agree,
                    "prompt_hash": judgment.prompt_hash,
                    "model_id": 2,
                    "baseline_id": 9,
                    "order": order,
                    "generation_a": judgment.generation_a,
                    "generation_b": judgment.generation_b,
                }
            )
    monkeypatch.setattr(annotations, "labels", lambda store, batch=None: pd.DataFrame(rows))
    out = run_json(capsys, "agreement", "--db", stubbed_store, "--json")
    pairs = {(p["rater_a"], p["rater_b"]): p for p in out["pairs"]}
    # the humans copied the gpt-4 judge's verdicts in their shown order: perfect agreement everywhere
    assert pairs[("ann", "pairwise:gpt-4")]["agreement"] == 1.0 and pairs[("ann", "bob")]["agreement"] == 1.0
    assert out["vs_mode"]["pairwise:gpt-4"] == 1.0
    judges = {j["rater"]: j for j in out["judges"]}
    assert judges["pairwise:gpt-4"]["position_consistency"] == 1.0  # the stub repeats each verdict in both orders
