"""Judgments read back from the store as tidy tables, one per verdict type (evalkit.core.vocabulary); which
table a judge kind's judgments go to is its declared aggregation (evalkit.judges.aggregation):

- pairwise: judges that give verdicts in both shown orders (LIMA's, the reference judge, custom
  pairwise specs): one row per (judge, model's generation, baseline's generation) with both per-order
  outcomes and the combined one (agreeing orders give the outcome, disagreeing ones a tie);
- alpaca: judges that give one continuous preference per pair (AlpacaEval's weighted judge);
- single: single-answer grades (Likert and the like), one row per judge sample.

Every row says which generation set it is about: `model_id` + `decoding` (the decoding hash of the
model's generation) and, for comparisons, `baseline_id` + `baseline_decoding`. Verdicts are stored
in the shown order and turned into the evaluated model's view here: outcome "win"/"tie"/"loss"/
"invalid" and AlpacaEval's preference (2 model wins, 1 baseline wins, 1.5 tie, NaN invalid).
Judgments are read through `judgment_uses`, so a judgment shared by two models with identical
answers appears for each of them. `read_tables` reads the store once for all kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.records import JUDGE_COLUMNS
from evalkit.core.vocabulary import MODEL_VIEW, ORDERS, OUTCOMES, PREFERENCE, UNPARSEABLE_REPLY, VERDICTS, both_orders
from evalkit.judges.aggregation import AGGREGATIONS, TableName, aggregation_of, declared_kinds, spec_output
from evalkit.results.reading import Judged, read_judged
from evalkit.store.store import Store

IDENTITY = [*JUDGE_COLUMNS, "prompt_hash", "instruction", "model", "model_id", "decoding"]
PAIRWISE_COLUMNS = [
    *IDENTITY,
    "baseline",
    "baseline_id",
    "baseline_decoding",
    "generation_a",
    "generation_b",
    "verdict_ab",
    "verdict_ba",
    "outcome",
    "preference",
    "model_len",
    "baseline_len",
    "invalid_reason",
]
ALPACA_COLUMNS = [
    *IDENTITY,
    "baseline",
    "baseline_id",
    "baseline_decoding",
    "generation_a",
    "generation_b",
    "order",
    "outcome",
    "preference",
    "valid",
    "model_len",
    "baseline_len",
    "invalid_reason",
]
LIKERT_COLUMNS = [*IDENTITY, "generation_a", "sample", "score", "valid", "invalid_reason"]
OUTCOME_NAMES = np.array(OUTCOMES, dtype=object)  # model-view code -> outcome
NONE = np.array(None, dtype=object)  # the missing value np.where fills in (an array: numpy's stubs take no bare None)


def _view_codes() -> np.ndarray:
    """MODEL_VIEW on codes: [order code, verdict code] -> index into OUTCOMES, -1 where undefined."""
    codes = np.full((len(ORDERS), len(VERDICTS)), -1, dtype=np.int64)
    for (order, verdict), result in MODEL_VIEW.items():
        codes[ORDERS.index(order), VERDICTS.index(verdict)] = OUTCOMES.index(result)
    return codes


_VIEW_CODES = _view_codes()


def judge_tables(judged: Judged, declared: Mapping[str, str]) -> dict[TableName, list[str]]:
    """Judge kinds by the table their declared aggregation reads them into. Kinds whose judge declared
    nothing (stores written before specs were recorded, hand-made test stores) are read as verdicts
    when they judged pairs, else as scores (`spec_output`)."""
    groups: dict[TableName, list[str]] = {aggregation.table: [] for aggregation in AGGREGATIONS.values()}
    paired = judged.judges.groupby("judge_kind", sort=True)["paired"].any()
    for kind, was_paired in paired.items():
        output = declared.get(str(kind), spec_output(bool(was_paired)))
        groups[aggregation_of(output).table].append(str(kind))
    return groups


def _objects(frame: pd.DataFrame, values: np.ndarray) -> pd.Series:
    """An object column that keeps None as None (pandas would otherwise infer a string dtype with NaN)."""
    return pd.Series(values, index=frame.index, dtype=object)


def _reasons(judged: Judged, codes: np.ndarray, invalid: np.ndarray) -> np.ndarray:
    """Why each invalid row is invalid (None for valid rows): its stored reason, else an unreadable
    reply (the only way a judgment was invalid before reasons were stored)."""
    names = np.append(np.asarray(judged.reasons, dtype=object), UNPARSEABLE_REPLY)  # code -1: the last entry
    return np.where(invalid, names[np.where(codes >= 0, codes, len(names) - 1)], NONE)


def _of_kinds(judged: Judged, kinds: list[str]) -> pd.DataFrame:
    return judged.rows[judged.rows["judge"].isin(judged.judge_codes(kinds))]


def _shown(columns: list[str], instructions: bool) -> list[str]:
    return [c for c in columns if instructions or c != "instruction"]


def _named(judged: Judged, frame: pd.DataFrame, columns: list[str], instructions: bool) -> pd.DataFrame:
    """Attach judge, prompt, model and decoding names to coded rows and keep `columns`."""
    codes = frame["judge"].to_numpy()
    for name in JUDGE_COLUMNS:
        frame[name] = judged.judges[name].to_numpy(dtype=object)[codes]
    frame["prompt_hash"] = judged.prompt_hashes[frame["prompt"].to_numpy()]
    frame["model"] = judged.model_names.reindex(frame["model_id"].to_numpy()).to_numpy(dtype=object)
    frame["decoding"] = judged.decoding_hashes[frame["decoding"].to_numpy()]
    if "baseline" in columns:
        frame["baseline"] = judged.model_names.reindex(frame["baseline_id"].to_numpy()).to_numpy(dtype=object)
        frame["baseline_decoding"] = judged.decoding_hashes[np.maximum(frame["baseline_decoding"].to_numpy(), 0)]
    if instructions:
        frame["instruction"] = judged.instructions.reindex(frame["prompt_hash"].to_numpy()).to_numpy(dtype=object)
    return frame[_shown(columns, instructions)].reset_index(drop=True)


def _pairwise(judged: Judged, kinds: list[str], instructions: bool) -> pd.DataFrame:
    rows = _of_kinds(judged, kinds)
    rows = rows[(rows["order"] >= 0) & (rows["generation_b"] >= 0)]
    if rows.empty:
        return pd.DataFrame(columns=_shown(PAIRWISE_COLUMNS, instructions))
    view = np.where(
        rows["valid"].to_numpy() & (rows["verdict"].to_numpy() >= 0),
        _VIEW_CODES[rows["order"].to_numpy(), np.maximum(rows["verdict"].to_numpy(), 0)],
        -1,
    )
    keys = ["judge", "generation_a", "generation_b"]
    latest = rows.assign(view=view).drop_duplicates([*keys, "order"], keep="last")
    ab = latest[latest["order"] == 0]
    ba = latest[latest["order"] == 1][[*keys, "view", "reason"]]
    both = ab.merge(ba, on=keys, how="inner", suffixes=("_ab", "_ba"))
    view_ab, view_ba = both["view_ab"].to_numpy(), both["view_ba"].to_numpy()
    invalid = (view_ab < 0) | (view_ba < 0)
    # the first shown order's reason when it is the invalid one, else the second's
    reason_codes = np.where(view_ab < 0, both["reason_ab"].to_numpy(), both["reason_ba"].to_numpy())
    both["invalid_reason"] = _objects(both, _reasons(judged, reason_codes, invalid))
    combined = both_orders(view_ab, view_ba)  # orders disagree: a tie (either invalid: -1, shown as invalid)
    both["verdict_ab"] = _objects(both, np.where(view_ab >= 0, OUTCOME_NAMES[np.maximum(view_ab, 0)], NONE))
    both["verdict_ba"] = _objects(both, np.where(view_ba >= 0, OUTCOME_NAMES[np.maximum(view_ba, 0)], NONE))
    both["outcome"] = np.where(invalid, "invalid", OUTCOME_NAMES[np.maximum(combined, 0)])
    both["preference"] = both["outcome"].map(PREFERENCE).astype(float)
    return _named(judged, both, PAIRWISE_COLUMNS, instructions)


def _single(judged: Judged, kinds: list[str], instructions: bool) -> pd.DataFrame:
    rows = _of_kinds(judged, kinds)
    if rows.empty:
        return pd.DataFrame(columns=_shown(LIKERT_COLUMNS, instructions))
    rows = rows.drop_duplicates(["judge", "generation_a", "sample"], keep="last").copy()
    rows["score"] = rows["score"].where(rows["valid"], np.nan)
    rows["invalid_reason"] = _objects(rows, _reasons(judged, rows["reason"].to_numpy(), rows["score"].isna().to_numpy()))
    return _named(judged, rows, LIKERT_COLUMNS, instructions)


def _alpaca(judged: Judged, kinds: list[str], instructions: bool) -> pd.DataFrame:
    rows = _of_kinds(judged, kinds)
    rows = rows[rows["generation_b"] >= 0]
    if rows.empty:
        return pd.DataFrame(columns=_shown(ALPACA_COLUMNS, instructions))
    rows = rows.drop_duplicates(["judge", "generation_a", "generation_b"], keep="last").copy()
    valid = rows["valid"].to_numpy()
    rows["preference"] = rows["score"].where(rows["valid"], np.nan)
    rows["outcome"] = np.select(
        [~valid, rows["preference"] > 1.5, rows["preference"] < 1.5], ["invalid", "win", "loss"], default="tie"
    )
    order = rows["order"].to_numpy()
    rows["order"] = _objects(rows, np.where(order >= 0, np.array(ORDERS, dtype=object)[np.maximum(order, 0)], NONE))
    rows["invalid_reason"] = _objects(rows, _reasons(judged, rows["reason"].to_numpy(), ~valid))
    return _named(judged, rows, ALPACA_COLUMNS, instructions)


@dataclass(frozen=True)
class Tables:
    """Every judgment of a store, one table per verdict type. `comparisons` holds every table whose
    verdict type compares with a baseline."""

    pairwise: pd.DataFrame
    alpaca: pd.DataFrame
    single: pd.DataFrame

    def of(self, table: TableName) -> pd.DataFrame:
        """The table an aggregation names (evalkit.judges.aggregation.Aggregation.table)."""
        frame: pd.DataFrame = getattr(self, table)
        return frame

    @property
    def comparisons(self) -> pd.DataFrame:
        compared = (self.of(aggregation.table) for aggregation in AGGREGATIONS.values() if aggregation.compares)
        frames = [frame for frame in compared if not frame.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PAIRWISE_COLUMNS)


# How each table is built from its judge kinds' rows (the Tables field an aggregation names).
READERS: dict[TableName, Callable[[Judged, list[str], bool], pd.DataFrame]] = {
    "pairwise": _pairwise,
    "alpaca": _alpaca,
    "single": _single,
}


def tables_of(judged: Judged, declared: Mapping[str, str], instructions: bool = True) -> Tables:
    """Every judgment in `judged` read into the table of its kind's declared aggregation."""
    groups = judge_tables(judged, declared)
    return Tables(**{table: READERS[table](judged, kinds, instructions) for table, kinds in groups.items()})


def known_outputs(store: Store) -> dict[str, str]:
    """judge_kind -> output: the judges' declarations (without importing a judge class) and every spec
    stored with judgments."""
    from evalkit.store.provenance import declared_outputs

    return {**declared_kinds(), **declared_outputs(store)}


def read_tables(store: Store, instructions: bool = True, kinds: Sequence[str] | None = None) -> Tables:
    """Every judgment (of these judge kinds; all when None) from a single read of the store."""
    return tables_of(read_judged(store, kinds), known_outputs(store), instructions)


def pairwise_table(store: Store, judge_kind: str | None = None) -> pd.DataFrame:
    """Verdict judges' rows (every such kind, or one); pairs missing an order are left out."""
    return read_tables(store, kinds=[judge_kind] if judge_kind else None).pairwise


def likert_table(store: Store, judge_kind: str | None = None) -> pd.DataFrame:
    """Single-answer grades, one row per (judge, generation, judge sample); score NaN when unreadable."""
    return read_tables(store, kinds=[judge_kind] if judge_kind else None).single


def alpaca_table(store: Store, judge_kind: str | None = None) -> pd.DataFrame:
    """Preference judges' rows: the weighted preference, 1 + P(model's answer better)."""
    return read_tables(store, kinds=[judge_kind] if judge_kind else None).alpaca
