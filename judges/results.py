"""Judgments read back from the store as tidy tables (the interface stats, leaderboard and run use).

Verdicts are stored in the shown order; these tables turn them into the evaluated model's viewpoint:
"win" / "tie" / "loss", and AlpacaEval's preference scale (2 = model wins, 1 = baseline wins,
1.5 = tie, NaN = invalid). They read judgments through `judgment_uses`, so a judgment shared by two
models with identical answers appears for each of them. `tables` reads the store once for all three;
the per-kind functions are for callers that need one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.judges.reading import ORDERS, VERDICTS, Judged, read_judged

PAIRWISE_COLUMNS = ["judge_kind", "judge_model", "judge_spec_hash", "prompt_hash", "instruction", "model", "model_id",
                    "baseline", "baseline_id", "verdict_ab", "verdict_ba", "outcome", "preference", "model_len", "baseline_len"]
LIKERT_COLUMNS = ["judge_model", "judge_spec_hash", "judge_kind", "prompt_hash", "instruction", "model", "model_id",
                  "sample", "score", "valid"]
ALPACA_COLUMNS = ["judge_kind", "judge_model", "judge_spec_hash", "prompt_hash", "instruction", "model", "model_id",
                  "baseline", "baseline_id", "order", "outcome", "preference", "valid", "model_len", "baseline_len"]
PREFERENCE = {"win": 2.0, "loss": 1.0, "tie": 1.5}
# (shown order, shown verdict) -> the evaluated model's result
MODEL_VIEW = {("AB", "A"): "win", ("AB", "B"): "loss", ("BA", "A"): "loss", ("BA", "B"): "win",
              ("AB", "tie"): "tie", ("BA", "tie"): "tie"}
ALPACA_KIND = "alpaca_eval"
OUTCOMES = np.array(["win", "tie", "loss"], dtype=object)  # model-view code -> outcome


def _view_codes() -> np.ndarray:
    """MODEL_VIEW on codes: [order code, verdict code] -> index into OUTCOMES, -1 where undefined."""
    codes = np.full((len(ORDERS), len(VERDICTS)), -1, dtype=np.int64)
    for (order, verdict), result in MODEL_VIEW.items():
        codes[ORDERS.index(order), VERDICTS.index(verdict)] = list(OUTCOMES).index(result)
    return codes


_VIEW_CODES = _view_codes()


def _objects(frame: pd.DataFrame, values: np.ndarray) -> pd.Series:
    """An object column that keeps None as None (pandas would otherwise infer a string dtype with NaN)."""
    return pd.Series(values, index=frame.index, dtype=object)


def _kinds(judges: pd.DataFrame) -> dict[str, list[str]]:
    """Judge kinds by how their rows are read: AlpacaEval's (one order, weighted preference), other
    pairwise ones (LIMA's, the offline reference judge, custom pairwise specs: both orders) and
    single-answer ones (Likert-style scores)."""
    paired = judges.groupby("judge_kind", sort=True)["paired"].any()
    return {"alpaca": [k for k in paired.index if k == ALPACA_KIND],
            "pairwise": [k for k, p in paired.items() if p and k != ALPACA_KIND],
            "single": [k for k, p in paired.items() if not p]}


def _of_kinds(judged: Judged, kinds: list[str]) -> pd.DataFrame:
    return judged.rows[judged.rows["judge"].isin(judged.judge_codes(kinds))]


def _shown(columns: list[str], instructions: bool) -> list[str]:
    return [c for c in columns if instructions or c != "instruction"]


def _named(judged: Judged, frame: pd.DataFrame, columns: list[str], instructions: bool) -> pd.DataFrame:
    """Attach judge, prompt and model names to coded rows and keep `columns` (minus `instruction` if not wanted)."""
    codes = frame["judge"].to_numpy()
    for name in ("judge_kind", "judge_model", "judge_spec_hash"):
        frame[name] = judged.judges[name].to_numpy(dtype=object)[codes]
    frame["prompt_hash"] = judged.prompt_hashes[frame["prompt"].to_numpy()]
    frame["model"] = judged.model_names.reindex(frame["model_id"].to_numpy()).to_numpy(dtype=object)
    if "baseline" in columns:
        frame["baseline"] = judged.model_names.reindex(frame["baseline_id"].to_numpy()).to_numpy(dtype=object)
    if instructions:
        frame["instruction"] = judged.instructions.reindex(frame["prompt_hash"].to_numpy()).to_numpy(dtype=object)
    return frame[_shown(columns, instructions)].reset_index(drop=True)


def _pairwise(judged: Judged, kinds: list[str], instructions: bool) -> pd.DataFrame:
    rows = _of_kinds(judged, kinds)
    rows = rows[rows["order"] >= 0]
    if rows.empty:
        return pd.DataFrame(columns=_shown(PAIRWISE_COLUMNS, instructions))
    view = np.where(rows["valid"].to_numpy() & (rows["verdict"].to_numpy() >= 0),
                    _VIEW_CODES[rows["order"].to_numpy(), np.maximum(rows["verdict"].to_numpy(), 0)], -1)
    keys = ["judge", "prompt", "model_id", "baseline_id"]
    latest = rows.assign(view=view).drop_duplicates([*keys, "order"], keep="last")
    ab = latest[latest["order"] == 0]
    ba = latest[latest["order"] == 1][[*keys, "view"]]
    both = ab.merge(ba, on=keys, how="inner", suffixes=("_ab", "_ba"))
    view_ab, view_ba = both["view_ab"].to_numpy(), both["view_ba"].to_numpy()
    invalid = (view_ab < 0) | (view_ba < 0)
    combined = np.where(view_ab == view_ba, view_ab, 1)  # orders disagree: a tie
    both["verdict_ab"] = _objects(both, np.where(view_ab >= 0, OUTCOMES[np.maximum(view_ab, 0)], None))
    both["verdict_ba"] = _objects(both, np.where(view_ba >= 0, OUTCOMES[np.maximum(view_ba, 0)], None))
    both["outcome"] = np.where(invalid, "invalid", OUTCOMES[np.maximum(combined, 0)])
    both["preference"] = both["outcome"].map(PREFERENCE).astype(float)
    return _named(judged, both, PAIRWISE_COLUMNS, instructions)


def _likert(judged: Judged, kinds: list[str], instructions: bool) -> pd.DataFrame:
    rows = _of_kinds(judged, kinds)
    if rows.empty:
        return pd.DataFrame(columns=_shown(LIKERT_COLUMNS, instructions))
    rows = rows.drop_duplicates(["judge", "prompt", "model_id", "sample"], keep="last").copy()
    rows["score"] = rows["score"].where(rows["valid"], np.nan)
    return _named(judged, rows, LIKERT_COLUMNS, instructions)


def _alpaca(judged: Judged, kinds: list[str], instructions: bool) -> pd.DataFrame:
    rows = _of_kinds(judged, kinds)
    if rows.empty:
        return pd.DataFrame(columns=_shown(ALPACA_COLUMNS, instructions))
    rows = rows.drop_duplicates(["judge", "prompt", "model_id", "baseline_id"], keep="last").copy()
    valid = rows["valid"].to_numpy()
    rows["preference"] = rows["score"].where(rows["valid"], np.nan)
    rows["outcome"] = np.select([~valid, rows["preference"] > 1.5, rows["preference"] < 1.5], ["invalid", "win", "loss"], default="tie")
    order = rows["order"].to_numpy()
    rows["order"] = _objects(rows, np.where(order >= 0, np.array(ORDERS, dtype=object)[np.maximum(order, 0)], None))
    return _named(judged, rows, ALPACA_COLUMNS, instructions)


def tables(store: object, instructions: bool = True,
           kinds: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(pairwise, alpaca, likert) rows of these judge kinds (all when None), from a single read:
    pairwise holds every kind judged in both orders except AlpacaEval's, likert every single-answer kind."""
    return tables_of(read_judged(store, kinds), instructions)


def tables_of(judged: Judged, instructions: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    kinds = _kinds(judged.judges)
    return (_pairwise(judged, kinds["pairwise"], instructions), _alpaca(judged, kinds["alpaca"], instructions),
            _likert(judged, kinds["single"], instructions))


def pairwise_table(store: object, judge_kind: str = "pairwise") -> pd.DataFrame:
    """One row per (judge, prompt, model, baseline) judged in both orders; pairs missing an order are left out."""
    return _pairwise(read_judged(store, [judge_kind]), [judge_kind], True)


def likert_table(store: object, judge_kind: str = "likert") -> pd.DataFrame:
    """One row per (judge, prompt, model, judge sample); score NaN when the reply was unreadable."""
    return _likert(read_judged(store, [judge_kind]), [judge_kind], True)


def alpaca_table(store: object, judge_kind: str = ALPACA_KIND) -> pd.DataFrame:
    """One row per (judge, prompt, model, baseline): the weighted preference, 1 + P(model's answer better)."""
    return _alpaca(read_judged(store, [judge_kind]), [judge_kind], True)
