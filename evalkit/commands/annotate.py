"""`evalkit annotate`: make human-annotation batches (labelled on the leaderboard's Annotate page).

`create` pairs a model with a baseline on a prompt set; K annotators label every item, so their
agreement with each other and with the judges can be measured (LIMA section 4.1).
"""

from __future__ import annotations

import argparse
import json
import sys

from evalkit.commands.common import add_db_flag, add_json_flag, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "annotate",
        help="create human pairwise-annotation batches and show their progress",
        description="Human pairwise annotation: batches are labelled on the leaderboard's Annotate page.",
    )
    actions = parser.add_subparsers(dest="annotate_action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="make a batch: MODEL vs BASELINE on a prompt set")
    create.add_argument("--models", nargs=2, required=True, metavar=("MODEL", "BASELINE"),
                        help="the evaluated model and the baseline it is compared with (names in the store)")
    create.add_argument("--prompts", required=True, metavar="SET",
                        help="prompt set: a name in the store, `dev`, a file, or hf:NAME")
    create.add_argument("--per-item", type=positive_int, required=True, metavar="K",
                        help="how many different annotators label each item")
    create.add_argument("--name", default=None, help="batch name (default MODEL-vs-BASELINE-SET)")
    create.add_argument("--limit", type=positive_int, default=None, metavar="N", help="only the first N shared prompts")
    create.add_argument("--seed", type=int, default=None, help="seed of the per-item A/B order (default: from the name)")
    add_db_flag(create)
    add_json_flag(create)
    create.set_defaults(handler=run_create)

    status = actions.add_parser("status", help="list batches with their labelling progress")
    add_db_flag(status)
    add_json_flag(status)
    status.set_defaults(handler=run_status)


def _prompt_set_name(store, spec: str) -> str:  # type: ignore[no-untyped-def]
    """A set already in the store is used as stored; anything else is loaded and saved first."""
    from sqlalchemy import select

    from evalkit.store import schema as t

    with store.engine.connect() as conn:
        if conn.execute(select(t.prompt_sets.c.name).where(t.prompt_sets.c.name == spec)).first():
            return spec
    from evalkit.data import load_prompt_set

    prompt_set = load_prompt_set(spec)
    store.save_prompt_set(prompt_set)
    return prompt_set.name


def run_create(args: argparse.Namespace) -> int:
    from evalkit.settings import db_url
    from evalkit.store import Store
    from evalkit.store.annotations import create_batch

    store = Store(db_url(args.db))
    model, baseline = args.models
    set_name = _prompt_set_name(store, args.prompts)
    name = args.name or f"{model}-vs-{baseline}-{set_name}"
    batch, n_items = create_batch(
        store, name, store.model_id(model), store.model_id(baseline), set_name, args.per_item,
        seed=args.seed, limit=args.limit,
    )
    summary = {"batch": name, "id": batch, "items": n_items, "per_item": args.per_item,
               "labels_needed": n_items * args.per_item}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"batch {name!r}: {n_items} items x {args.per_item} annotators = {n_items * args.per_item} labels; "
              "label them on the leaderboard's Annotate page (`evalkit leaderboard`)")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from evalkit.settings import db_url
    from evalkit.store import Store
    from evalkit.store.annotations import batches

    frame = batches(Store(db_url(args.db), read_only=True))
    if args.json:
        print(frame.drop(columns=["created_at"]).to_json(orient="records"))
        return 0
    if frame.empty:
        print("no annotation batches; make one with `evalkit annotate create`", file=sys.stderr)
        return 0
    for row in frame.itertuples():
        needed = row.n_items * row.per_item
        print(f"{row.name}: {row.model} vs {row.baseline} on {row.prompt_set}, "
              f"{row.n_labels}/{needed} labels ({row.per_item} per item)")
    return 0
