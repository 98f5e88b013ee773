"""`evalkit annotate status`: every batch's progress and, per annotator, labels done, time per label,
agreement with the other annotators so far and where the labels came from (an invitation, an imported
file). The admin view; it never shows a link or token."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.store import Store

PAIRWISE_AGREEMENT = "tie-discounted vs the others' mode"
ABSOLUTE_AGREEMENT = "exact agreement with the others"


def batch_status(store: Store) -> list[dict[str, Any]]:
    """One entry per batch (pairwise first, then absolute): the columns `annotations.batches` had, plus
    `mode`, `agreement_metric` and an `annotators` list."""
    from evalkit.stats.absolute import agreement_with_others
    from evalkit.stats.agreement import vs_mode
    from evalkit.stats.annotators import annotator_table
    from evalkit.store import annotations, ratings

    out: list[dict[str, Any]] = []
    for mode, frame, read, agreement_name in (
        ("pairwise", annotations.batches(store), annotations.labels, PAIRWISE_AGREEMENT),
        ("absolute", ratings.rating_batches(store), ratings.ratings, ABSOLUTE_AGREEMENT),
    ):
        for batch in frame.itertuples():
            labels = read(store, int(batch.id))
            long = labels[["item_id", "annotator", "label"]].set_axis(["item", "rater", "label"], axis=1)
            agreement = (vs_mode(long) if mode == "pairwise" else agreement_with_others(long)) if len(long) else {}
            table = annotator_table(labels, agreement)
            table["sources"] = [label_sources(labels[labels["annotator"] == name]["source"]) for name in table["annotator"]]
            entry = {
                "id": int(batch.id),
                "name": batch.name,
                "mode": mode,
                "prompt_set": batch.prompt_set,
                "per_item": int(batch.per_item),
                "n_items": int(batch.n_items),
                "n_labels": int(batch.n_labels),
                "agreement_metric": agreement_name,
                "annotators": [
                    {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                    for row in table.to_dict(orient="records")
                ],
            }
            if mode == "pairwise":
                entry.update(model=batch.model, baseline=batch.baseline)
            out.append(entry)
    return out


def label_sources(sources: Any) -> list[dict[str, Any]]:
    """Where an annotator's labels came from, most first: [{"source": "invitation:3", "labels": 12}, ...];
    source None: stored before evalkit recorded sources."""
    counts = Counter(source if isinstance(source, str) else None for source in sources)
    return [{"source": source, "labels": n} for source, n in counts.most_common()]


def _sources_text(sources: list[dict[str, Any]]) -> str:
    return ", ".join(f"{s['source'] or 'before provenance'} ({s['labels']})" for s in sources)


def _number(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def run_status(args: argparse.Namespace) -> int:
    from evalkit.core.settings import db_url
    from evalkit.store import Store

    status = batch_status(Store(db_url(args.db), read_only=True))
    if args.json:
        print(json.dumps(status))
        return 0
    if not status:
        print("no annotation batches; make one with `evalkit annotate create`", file=sys.stderr)
        return 0
    for batch in status:
        what = f"{batch['model']} vs {batch['baseline']}" if batch["mode"] == "pairwise" else "absolute ratings"
        print(
            f"{batch['name']}: {what} on {batch['prompt_set']}, {batch['n_labels']}/{batch['n_items'] * batch['per_item']} "
            f"labels ({batch['per_item']} per item)"
        )
        for row in batch["annotators"]:
            print(
                f"  {row['annotator']}: {row['labels']} labels, {_number(row['seconds_per_label'], '.1f')} s per label, "
                f"{batch['agreement_metric']} {_number(row['agreement'], '.3f')}; from {_sources_text(row['sources'])}"
            )
    return 0
