"""Human labels of the store's annotation batches (`evalkit annotate`) and the verdicts of every
pairwise judge the store holds on the same pairs, as judge-quality inputs.

Labels are in each item's shown order (Answer A = the answer shown first), the order the judges'
verdicts are put in by `evalkit agreement`'s own matching, so both commands see the same labels."""

from __future__ import annotations

import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.core.redaction import redact_url
from evalkit.data.human_labels import PAIR_COLUMNS, LabelledPairs
from evalkit.judge_eval.align import VERDICT_COLUMNS, JudgeVerdicts
from evalkit.results.agreement import judge_rater_names, store_labels
from evalkit.results.tables import read_tables
from evalkit.store import annotations as annotation_store
from evalkit.store.annotation_pairs import item_texts
from evalkit.store.store import Store


def _shown_pairs(store: Store, item_ids: list[int]) -> pd.DataFrame:
    """item, instruction, output_1 (shown first), output_2 of annotation items."""
    frame = item_texts(store, item_ids)
    model_first = frame["order"] == "AB"
    return pd.DataFrame(
        {
            "item": frame["id"].astype(str),
            "instruction": frame["instruction"],
            "output_1": frame["model_text"].where(model_first, frame["baseline_text"]),
            "output_2": frame["baseline_text"].where(model_first, frame["model_text"]),
        }
    )[PAIR_COLUMNS]


def store_judge_quality(store: Store, batch: str | None = None) -> tuple[LabelledPairs, list[JudgeVerdicts]]:
    """(the humans' labelled pairs, one JudgeVerdicts per judge configuration) of one batch or all."""
    humans = annotation_store.labels(store, annotation_store.batch_id(store, batch) if batch else None)
    if humans.empty:
        raise EvalkitError("the store has no human labels; collect some with `evalkit annotate` (or pass --humans FILE)")
    judged = read_tables(store, instructions=False).comparisons
    labels, human_names = store_labels(humans, judged)
    labels = labels.assign(item=labels["item"].astype(str))
    source = f"{redact_url(store.url)}" + (f" batch {batch}" if batch else "")
    is_human = labels["rater"].isin(set(human_names))
    human_rows = labels[is_human].assign(cost_usd=float("nan"), seconds=float("nan"))
    pairs = _shown_pairs(store, sorted({int(item) for item in human_rows["item"]}))
    labelled = LabelledPairs(source, "store", pairs, human_rows.reset_index(drop=True), explicit_raters=True)
    details = {
        name: {"source": "store", "judge_kind": kind, "judge_model": model, "spec_hash": str(spec)[:12]}
        for (kind, model, spec), name in (judge_rater_names(judged).items() if not judged.empty else [])
    }
    judges = []
    for rater, part in labels[~is_human].groupby("rater", sort=True):
        rows = part.assign(sample=0, cost_usd=float("nan"), seconds=float("nan"))[VERDICT_COLUMNS].reset_index(drop=True)
        judges.append(JudgeVerdicts(str(rater), rows, details.get(str(rater), {"source": "store"})))
    return labelled, judges
