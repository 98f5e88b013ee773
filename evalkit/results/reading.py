"""Every stored judgment, read in one query as integer codes (the fast path under `results`).

A sweep of 100 checkpoints x 805 prompts x 3 judges is ~500k judgments. Reading them as rows of
text (judge names, hashes and model names repeated on every row, one query per judge kind, each
joining all of `judgment_uses`) took ~8 s. Here the database does the join once and turns each
repeated string into a small integer with CASE (there are a handful of judges, two orders, three
verdicts); generations, models and prompts are read once each and attached by numpy indexing, and
strings are attached only to the rows that end up in a table (`results.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.core.records import JUDGE_COLUMNS as JUDGE_ORDER
from evalkit.store.result_reads import Generations, invalid_reasons, judge_identities, judgment_use_codes, read_catalog
from evalkit.store.store import Store

# Codes: order code = index into ORDERS (-1: no order, single-answer judges); verdict code = index
# into VERDICTS (-1: none or anything else).
JUDGE_COLUMNS = list(JUDGE_ORDER)
ROW_COLUMNS = ["id", "judge", "order", "verdict", "sample", "score", "valid", "generation_a", "generation_b"]


@dataclass(frozen=True)
class Judged:
    """Judgment uses as codes, plus the lookups that turn codes back into names.

    rows: id, judge (index into `judges`), order, verdict, sample, score (NaN when none), valid,
    generation_a, generation_b (-1 when none), prompt (index into `prompt_hashes`), model_id,
    baseline_id (-1 when none), decoding, baseline_decoding (index into `decoding_hashes`; -1 when
    none), model_len, baseline_len (characters; -1 when none), reason (index into `reasons`: why an
    invalid judgment is invalid; -1 when valid or stored without a reason). Sorted by judgment id, so
    "the latest judgment" is the last row of its group."""

    judges: pd.DataFrame  # judge_kind, judge_model, judge_spec_hash, paired, scored; row i is judge code i
    rows: pd.DataFrame
    prompt_hashes: np.ndarray  # object array, prompt code -> hash
    model_names: pd.Series  # model id -> name
    instructions: pd.Series  # prompt hash -> instruction
    decoding_hashes: np.ndarray  # object array, decoding code -> the generations' decoding hash
    reasons: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))  # reason code -> reason

    def judge_codes(self, kinds: Sequence[str]) -> list[int]:
        return [int(code) for code in np.flatnonzero(self.judges["judge_kind"].isin(list(kinds)).to_numpy())]


def judge_specs(store: Store, kinds: Sequence[str] | None = None, generation_ids: Sequence[int] | None = None) -> pd.DataFrame:
    """The distinct judges in the store (read from the ix_judgments_judge index alone), or of these answers."""
    return pd.DataFrame(judge_identities(store, kinds, generation_ids), columns=JUDGE_COLUMNS, dtype=object)


def _as_matrix(rows: list[tuple], width: int) -> np.ndarray:
    """(n, width) float64; NULL becomes NaN. Ids stay exact (float64 holds integers up to 2**53)."""
    return np.array(rows, dtype=np.float64) if rows else np.empty((0, width))


@dataclass(frozen=True)
class _Answers:
    """Every generation, as arrays sorted by id: which model and prompt, and its length in characters."""

    ids: np.ndarray
    model_ids: np.ndarray
    prompts: np.ndarray  # prompt code
    lengths: np.ndarray
    prompt_hashes: np.ndarray  # prompt code -> hash
    decodings: np.ndarray  # decoding code
    decoding_hashes: np.ndarray  # decoding code -> hash

    def index_of(self, generation_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position of each id in these arrays, whether it is there)."""
        if not len(self.ids):
            return np.zeros(len(generation_ids), dtype=np.int64), np.zeros(len(generation_ids), dtype=bool)
        position = np.minimum(np.searchsorted(self.ids, generation_ids), len(self.ids) - 1)
        return position, self.ids[position] == generation_ids


def _answers(generations: Generations) -> _Answers:
    prompts, hashes = pd.factorize(pd.Series(generations.prompt_hashes, dtype=object))
    decodings, decoding_hashes = pd.factorize(pd.Series(generations.decoding_hashes, dtype=object))
    return _Answers(
        np.array(generations.ids, dtype=np.int64),
        np.array(generations.model_ids, dtype=np.int64),
        prompts.astype(np.int64),
        np.array(generations.lengths, dtype=np.int64),
        np.asarray(hashes, dtype=object),
        decodings.astype(np.int64),
        np.asarray(decoding_hashes, dtype=object),
    )


def _empty_rows() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            name: pd.Series(dtype=np.int64)
            for name in [
                *ROW_COLUMNS,
                "prompt",
                "model_id",
                "baseline_id",
                "decoding",
                "baseline_decoding",
                "model_len",
                "baseline_len",
                "reason",
            ]
        }
    )
    return frame.astype({"score": float, "valid": bool})


def read_judged(store: Store, kinds: Sequence[str] | None = None, generation_ids: Sequence[int] | None = None) -> Judged:
    """Every use of a judgment (of these judge kinds; all when None), as codes. With
    `generation_ids`, only the uses between those answers, filtered by the database: the rows a page
    shows for two models or for the human-labelled items, without reading the store's millions."""
    judges = judge_specs(store, kinds, generation_ids)
    catalog = read_catalog(store, generation_ids)
    names = pd.Series(catalog.model_names, dtype=object)
    instructions = pd.Series(catalog.instructions, dtype=object)
    answers = _answers(catalog.generations)
    identities = list(judges[JUDGE_COLUMNS].itertuples(index=False, name=None))
    matrix = (
        _as_matrix(judgment_use_codes(store, identities, kinds, generation_ids), len(ROW_COLUMNS))
        if len(judges)
        else np.empty((0, len(ROW_COLUMNS)))
    )
    column = {name: matrix[:, i] for i, name in enumerate(ROW_COLUMNS)}
    side_a, known = answers.index_of(column["generation_a"].astype(np.int64))
    # Left out, as a join would: uses of a missing generation, and judgments of a judge that appeared
    # after the judge list was read (a job writing meanwhile; the next read has them).
    keep = known & (column["judge"] >= 0)
    order = np.argsort(column["id"][keep], kind="stable")  # by judgment id: the latest of a group comes last
    column = {name: values[keep][order] for name, values in column.items()}
    side_a = side_a[keep][order]
    has_b = column["generation_b"] >= 0
    side_b, _ = answers.index_of(np.maximum(column["generation_b"], 0).astype(np.int64))
    rows = (
        pd.DataFrame(
            {
                **{
                    name: column[name].astype(np.int64)
                    for name in ("id", "judge", "order", "verdict", "sample", "generation_a", "generation_b")
                },
                "score": column["score"],
                "valid": column["valid"] == 1,
                "prompt": answers.prompts[side_a],
                "model_id": answers.model_ids[side_a],
                "baseline_id": np.where(has_b, answers.model_ids[side_b], -1),
                "decoding": answers.decodings[side_a],
                "baseline_decoding": np.where(has_b, answers.decodings[side_b], -1),
                "model_len": answers.lengths[side_a],
                "baseline_len": np.where(has_b, answers.lengths[side_b], -1),
            }
        )
        if len(side_a)
        else _empty_rows()
    )
    invalid = rows.loc[~rows["valid"], "id"].unique().tolist() if generation_ids is not None else None
    stored_reasons = invalid_reasons(store, kinds, invalid) if len(rows) and not rows["valid"].all() else {}
    reason_codes, reasons = pd.factorize(pd.Series(list(stored_reasons.values()), dtype=object))
    by_id = pd.Series(reason_codes, index=np.fromiter(stored_reasons, dtype=np.int64, count=len(stored_reasons)))
    rows["reason"] = by_id.reindex(rows["id"].to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    judge_codes = column["judge"].astype(np.int64)
    judges["paired"] = np.bincount(judge_codes[has_b], minlength=len(judges))[: len(judges)] > 0
    scored = has_b & ~np.isnan(column["score"])
    judges["scored"] = np.bincount(judge_codes[scored], minlength=len(judges))[: len(judges)] > 0
    return Judged(
        judges, rows, answers.prompt_hashes, names, instructions, answers.decoding_hashes, np.asarray(reasons, dtype=object)
    )
