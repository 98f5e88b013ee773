"""Length-controlled win rate against alpaca-eval's own get_length_controlled_winrate, with its hub
file replaced by a local stand-in (nothing is downloaded)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.stats import length_controlled as lc

DATA = Path("/work/shared/data/alpaca_eval")


def _annotations(annotator: str) -> pd.DataFrame:
    if not DATA.is_dir():
        pytest.skip("AlpacaEval reference data not available")
    return pd.DataFrame(json.loads((DATA / f"alpaca-7b.{annotator}.annotations.json").read_text()))


def _fake_df_gamed(path: Path, n: int, gamed: bool) -> Path:
    """A stand-in for the hub's df_gamed.csv: per-instruction difficulty, and (for v1's regulariser)
    rows of two 'gamed' baselines with not_gamed_baseline False."""
    rng = np.random.default_rng(7)
    difficulty = rng.normal(size=n)
    frames = []
    for model in ("gamed_short", "gamed_long") if gamed else ("model",):
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "index": np.arange(n),
                    "instruction_difficulty": difficulty,
                    "preference": rng.uniform(0, 1, n),
                    "std_delta_len": rng.normal(size=n),
                    "not_gamed_baseline": False,
                }
            )
        )
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.fixture()
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """alpaca-eval's hf_hub_download answered from a local file; records how it was called."""
    from alpaca_eval.metrics import glm_winrate

    csv = _fake_df_gamed(tmp_path / "df_gamed.csv", lc.ALPACA_EVAL_SET_SIZE, gamed=True)
    calls: dict[str, object] = {}

    def download(**kwargs: object) -> str:
        calls.update(kwargs)
        return str(csv)

    monkeypatch.setattr(glm_winrate, "hf_hub_download", download)
    return calls


@pytest.mark.parametrize("annotator", ["alpaca_eval_gpt4", "weighted_alpaca_eval_gpt4_turbo"])
def test_minimal_variant_equals_alpaca_evals_own_minimal_glm(annotator: str, fake_hub: dict) -> None:
    import sklearn
    from alpaca_eval.metrics.glm_winrate import get_length_controlled_winrate

    frame = _annotations(annotator)
    with sklearn.config_context():
        theirs = get_length_controlled_winrate(
            frame.copy(), glm_name="length_controlled_minimal", save_weights_dir=None, is_warn_extreme_changes=False
        )
    ours = lc.length_controlled_from_annotations(frame, variant=lc.VARIANT_MINIMAL)
    assert ours["lc_variant"] == lc.VARIANT_MINIMAL
    assert ours["length_controlled_winrate"] == pytest.approx(theirs["length_controlled_winrate"], abs=1e-9)
    assert math.isnan(ours["lc_standard_error"])  # constant predictions: AlpacaEval's SEM is ~0 by construction
    assert theirs["lc_standard_error"] < 1e-12


def test_auto_falls_back_to_minimal_without_the_hub_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lc, "hub_files_cached", lambda: False)
    result = lc.length_controlled_from_annotations(_annotations("alpaca_eval_gpt4"))
    assert result["lc_variant"] == lc.VARIANT_MINIMAL
    # Published (v1, with instruction difficulty): 26.29; the minimal GLM differs, which is why it is labelled.
    assert 20 < result["length_controlled_winrate"] < 30


def test_v1_runs_through_alpaca_eval_from_the_cache_only(fake_hub: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import sklearn
    from alpaca_eval.metrics.glm_winrate import get_length_controlled_winrate

    monkeypatch.setattr(lc, "hub_files_cached", lambda: True)
    frame = _annotations("weighted_alpaca_eval_gpt4_turbo")
    ours = lc.length_controlled_from_annotations(frame)
    assert ours["lc_variant"] == lc.VARIANT_V1
    assert fake_hub.get("local_files_only") is True  # a cache miss would fail, never download
    with sklearn.config_context():
        theirs = get_length_controlled_winrate(
            frame.copy(), glm_name="length_controlled_v1", save_weights_dir=None, is_warn_extreme_changes=False
        )
    assert ours["length_controlled_winrate"] == pytest.approx(theirs["length_controlled_winrate"], abs=1e-9)
    assert ours["lc_standard_error"] == pytest.approx(theirs["lc_standard_error"], abs=1e-9)


def test_v1_needs_alpaca_evals_805_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lc, "hub_files_cached", lambda: True)
    frame = _annotations("alpaca_eval_gpt4").head(100)
    assert not lc.v1_applicable(frame)
    assert lc.length_controlled_from_annotations(frame)["lc_variant"] == lc.VARIANT_MINIMAL


def test_minimal_glm_on_lengths_edge_cases() -> None:
    few = lc.minimal_glm_winrate([2, 1, 2], [10, 20, 30], [30, 20, 10])
    assert math.isnan(few["length_controlled_winrate"]) and few["lc_variant"] == lc.VARIANT_MINIMAL
    # equal lengths everywhere: no length effect to remove, the fit is the (lightly penalised) mean
    prefs = np.random.default_rng(1).choice([1.0, 1.5, 2.0], size=300, p=[0.3, 0.1, 0.6])
    same = lc.minimal_glm_winrate(prefs, np.full(300, 50.0), np.full(300, 50.0))
    assert same["length_controlled_winrate"] == pytest.approx(100 * np.mean(prefs - 1), abs=1)


def test_a_judge_that_only_rewards_length_gets_about_half() -> None:
    rng = np.random.default_rng(0)
    n = 805
    base_len = np.full(n, 1000.0)
    model_len = base_len + rng.normal(300, 400, n)  # the model is usually longer
    delta = (base_len - model_len) / np.std(base_len - model_len, ddof=1)
    p_model = 1 / (1 + np.exp(2.0 * np.tanh(delta)))  # preference driven by length alone
    prefs = 1 + (rng.uniform(size=n) < p_model)
    raw = 100 * np.mean(prefs - 1)
    result = lc.minimal_glm_winrate(prefs, base_len, model_len)
    assert raw > 65
    assert abs(result["length_controlled_winrate"] - 50) < 6


def test_rejects_missing_fields() -> None:
    with pytest.raises(ValueError, match="output_1"):
        lc.length_controlled_from_annotations(pd.DataFrame({"preference": [1, 2]}))
