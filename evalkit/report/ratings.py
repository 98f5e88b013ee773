"""The report's view of LIMA's absolute ratings (Fail / Pass / Excellent): per absolute batch, each
model's shares by the annotators and by each absolute judge, from the Figure 3 summary the leaderboard's
Ratings page shows (evalkit.judge_eval.ratings), every share as shown text in percent with one decimal;
and per prompt, each rated answer with every annotator's rating, for the drill-down."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from evalkit.core.ordering import natural_key, natural_sorted
from evalkit.files.jsonio import json_safe
from evalkit.report.figure_tables import figure_table
from evalkit.report.shown import percent
from evalkit.stats.absolute import RATING_ORDER

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.judge_eval.ratings import Figure3
    from evalkit.store.store import Store


def shown_shares(row: dict[str, Any]) -> dict[str, str]:
    """A shares row's fractions as the percent text the report prints (one decimal, rounded once here)."""
    return {rating: percent(100 * row[rating]) for rating in RATING_ORDER}


def _agreement(figure: Figure3) -> list[dict[str, Any]]:
    """The Ratings page's two agreement tables, with the three decimals it and `annotate status` print."""
    annotators = [{"annotator": name, "agreement_with_others": value} for name, value in figure.annotators.items()]
    tables = [
        figure_table("raters: exact agreement and Cohen's kappa on the same answers", figure.agreement.to_dict(orient="records")),
        figure_table("each annotator vs the other annotators (exact agreement)", annotators),
    ]
    return [table for table in tables if table is not None]


def ratings_section(store: Store, models: Collection[str], with_agreement: bool) -> list[dict[str, Any]]:
    """One entry per absolute batch that rated a model of `models`: its shares rows (model, source,
    fail, pass, excellent, n, shown), in natural order; and, `with_agreement`, its agreement tables
    (they pool every rater of the batch, so they are left out of a report of one run)."""
    from evalkit.judge_eval.ratings import figure3  # pandas and the judges: not for `evalkit --help`
    from evalkit.store.ratings import rating_batches

    sections = []
    for batch in rating_batches(store).itertuples(index=False):
        figure = figure3(store, int(batch.id))
        shares = natural_sorted(figure.shares, ["model", "source"])
        rows = [row for row in json_safe(shares.to_dict(orient="records")) if row["model"] in models]
        if not rows:
            continue
        for row in rows:
            row["shown"] = shown_shares(row)
        sections.append(
            {
                "batch": str(batch.name),
                "prompt_set": str(batch.prompt_set),
                "per_item": int(batch.per_item),
                "n_items": int(batch.n_items),
                "n_labels": int(batch.n_labels),
                "shares": rows,
                "agreement": _agreement(figure) if with_agreement else [],
            }
        )
    return sections


def rated_answers(humans: pd.DataFrame, batch_names: dict[int, str], models: Collection[int]) -> dict[str, list[dict[str, Any]]]:
    """prompt hash -> each rated answer of a model in `models` (natural model order, then batch): model,
    answer (generation id), batch and its ratings [{annotator, label}] in the order given."""
    found: dict[str, dict[tuple[int, int], dict[str, Any]]] = {}
    for row in humans.itertuples(index=False):
        if int(row.model_id) not in models:
            continue
        key = (int(row.generation_id), int(row.batch_id))
        rated = found.setdefault(str(row.prompt_hash), {}).setdefault(
            key,
            {"model": str(row.model), "answer": key[0], "batch": batch_names.get(key[1], str(key[1])), "ratings": []},
        )
        rated["ratings"].append({"annotator": str(row.annotator), "label": str(row.label)})
    return {
        prompt: sorted(answers.values(), key=lambda a: (natural_key(a["model"]), natural_key(a["batch"])))
        for prompt, answers in found.items()
    }
