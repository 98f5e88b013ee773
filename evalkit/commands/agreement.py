"""`evalkit agreement`: how far raters agree on pairwise labels, from a labels file or from the
store (human labels of annotation batches plus the judges' verdicts on the same pairs)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from evalkit.commands.common import add_db_flag, add_json_flag

if TYPE_CHECKING:  # pandas is imported inside the functions so that `evalkit --help` stays fast
    import pandas as pd

# A judge's outcome (the model's view) as the label of an item shown in `order` ("AB": model is A).
_SHOWN_LABEL = {("AB", "win"): "A", ("AB", "loss"): "B", ("BA", "win"): "B", ("BA", "loss"): "A",
                ("AB", "tie"): "tie", ("BA", "tie"): "tie"}
_FLIPPED = {"win": "loss", "loss": "win", "tie": "tie"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "agreement", help="agreement between raters (humans, judges): LIMA and AlpacaEval protocols",
        description="Pairwise agreement (tie-discounted accuracy, agreement with/without ties, Cohen's kappa) for "
                    "every pair of raters, and each rater against the mode of the others (AlpacaEval).",
    )
    parser.add_argument("--labels", default=None, help='JSONL rows {"item", "rater", "label": "A"|"B"|"tie"}')
    parser.add_argument("--pool", nargs="+", default=None,
                        help="raters whose mode is the reference (default: all raters; with the store: the humans)")
    parser.add_argument("--batch", default=None, help="with the store: only this annotation batch")
    add_db_flag(parser)
    add_json_flag(parser)
    parser.set_defaults(handler=run)


def judge_rater_names(pairwise: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """A readable rater name per judge; the spec hash is added only where one judge model has several."""
    judges = pairwise[["judge_kind", "judge_model", "judge_spec_hash"]].drop_duplicates()
    counts = judges.groupby(["judge_kind", "judge_model"]).size()
    names = {}
    for kind, model, spec in judges.itertuples(index=False):
        name = f"{kind}:{model}"
        names[(kind, model, spec)] = f"{name}@{str(spec)[:8]}" if counts[(kind, model)] > 1 else name
    return names


def store_labels(humans: pd.DataFrame, pairwise: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Long rows (item, rater, label) from the humans' labels and the judges' verdicts on the same
    (prompt, model, baseline), put in each item's shown order; and the human raters' names."""
    import pandas as pd

    rows = [humans[["item_id", "annotator", "label"]].set_axis(["item", "rater", "label"], axis=1)]
    items = humans[["item_id", "prompt_hash", "model_id", "baseline_id", "order"]].drop_duplicates("item_id")
    if not pairwise.empty:
        names = judge_rater_names(pairwise)
        judged = pairwise.assign(rater=[names[k] for k in zip(pairwise["judge_kind"], pairwise["judge_model"],
                                                                pairwise["judge_spec_hash"])])
        flipped = judged.rename(columns={"model_id": "baseline_id", "baseline_id": "model_id"})
        flipped = flipped.assign(outcome=flipped["outcome"].map(_FLIPPED))
        for frame in (judged, flipped):
            matched = items.merge(frame[["prompt_hash", "model_id", "baseline_id", "rater", "outcome"]],
                                  on=["prompt_hash", "model_id", "baseline_id"])
            labels = [_SHOWN_LABEL.get((order, outcome)) for order, outcome in zip(matched["order"], matched["outcome"])]
            rows.append(pd.DataFrame({"item": matched["item_id"], "rater": matched["rater"], "label": labels}).dropna())
    labels = pd.concat(rows, ignore_index=True).drop_duplicates(["item", "rater"], keep="first")
    return labels, sorted(humans["annotator"].unique())


def _shown(part: pd.DataFrame, column: str, order: str) -> list[str | None]:
    """The store's per-order verdicts are in the model's view (win/tie/loss); back to the shown position."""
    if column not in part.columns:
        return [None] * len(part)
    return [_SHOWN_LABEL.get((order, verdict)) for verdict in part[column]]


def judge_biases(pairwise: pd.DataFrame) -> list[dict[str, Any]]:
    """Per judge, over all its pairwise rows: position consistency and length bias."""
    from evalkit.stats.agreement import length_bias, position_consistency
    from evalkit.stats.summary import preference_column

    if pairwise.empty:
        return []
    names = judge_rater_names(pairwise)
    out = []
    for key, part in pairwise.groupby(["judge_kind", "judge_model", "judge_spec_hash"], sort=True):
        consistency = position_consistency(_shown(part, "verdict_ab", "AB"), _shown(part, "verdict_ba", "BA"))
        bias = length_bias(preference_column(part), part["baseline_len"].to_numpy(dtype=float), part["model_len"].to_numpy(dtype=float))
        out.append({"rater": names[key], "n_both_orders": consistency["n"], "position_consistency": consistency["consistent"],
                    "first_position_rate": consistency["first_position_rate"], "n_length_differs": bias["n"],
                    "prefer_longer": bias["prefer_longer"]})
    return out


def run(args: argparse.Namespace) -> int:
    from evalkit.commands._statsio import print_json, read_labels, stats_error
    from evalkit.errors import EvalkitError
    from evalkit.stats.agreement import agreement_pairs, vs_mode

    judges: list[dict[str, Any]] | None = None
    if args.labels:
        labels, pool = read_labels(args.labels), args.pool
    else:
        from evalkit.commands._statsio import store_tables
        from evalkit.store import annotations

        store, pairwise, _ = store_tables(args.db)
        humans = annotations.labels(store, annotations.batch_id(store, args.batch) if args.batch else None)
        if humans.empty:
            raise EvalkitError("the store has no human labels; collect some with `evalkit annotate`, or pass --labels FILE")
        labels, humans_names = store_labels(humans, pairwise)
        pool = args.pool or humans_names
        judges = judge_biases(pairwise)
    try:
        result: dict[str, Any] = {"pairs": agreement_pairs(labels), "vs_mode": vs_mode(labels, pool)}
    except ValueError as exc:
        raise stats_error(exc) from None
    if judges is not None:
        result["judges"] = judges
    if args.json:
        print_json(result)
        return 0
    _print_text(result)
    return 0


def _print_text(result: dict[str, Any]) -> None:
    import pandas as pd

    from evalkit.commands._statsio import print_frame

    print_frame("pairs of raters (fractions; tie-discounted = LIMA's accuracy)", pd.DataFrame(result["pairs"]))
    vs = pd.DataFrame({"rater": list(result["vs_mode"]), "tie_discounted_vs_mode": list(result["vs_mode"].values())})
    print_frame("each rater vs the mode of the others (AlpacaEval)", vs)
    if "judges" in result:
        print_frame("judges: position consistency and length bias", pd.DataFrame(result["judges"]))
