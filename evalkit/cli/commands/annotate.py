"""`evalkit annotate`: human-annotation batches, labelled on the leaderboard's Annotate page by
invited annotators.

`create` makes a pairwise batch (a model against a baseline, LIMA Figure 11) or an absolute one (each
answer rated Fail / Pass / Excellent, LIMA Figure 3); K annotators label every item, so their
agreement with each other and with the judges can be measured (LIMA section 4.1). `--select random`
or `--select informative` with `--limit K` chooses a pairwise batch's prompts (jobs/annotation_selection.py):
a random sample, or draws weighted to where the judges are unsure, stored with their weights. `--invite WHO`
hands out the links in the same command. invite/revoke/invitations, status and export/import live
in annotate_invite.py, annotate_status.py and annotate_exchange.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from evalkit.cli.commands import annotate_exchange, annotate_invite, annotate_status
from evalkit.cli.commands.common import add_db_flag, add_json_flag, positive_int
from evalkit.core.errors import EvalkitError

if TYPE_CHECKING:
    from evalkit.store import Store

MODES = ("pairwise", "absolute")
SELECTIONS = ("random", "informative")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "annotate",
        help="human annotation: batches, invitation links, progress, label export/import",
        description="Human annotation: batches are labelled on the leaderboard's Annotate page through invitation links.",
    )
    actions = parser.add_subparsers(dest="annotate_action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="make a batch: MODEL vs BASELINE, or absolute ratings of MODEL...")
    create.add_argument(
        "--mode",
        choices=MODES,
        default="pairwise",
        help="pairwise: which of two answers is better (default); absolute: rate each answer "
        "Fail / Pass / Excellent (LIMA Figure 3)",
    )
    create.add_argument(
        "--models",
        nargs="+",
        required=True,
        metavar="MODEL",
        help="pairwise: the evaluated model and its baseline; absolute: one or more models (names in the store)",
    )
    create.add_argument(
        "--prompts", required=True, metavar="SET", help="prompt set: a name in the store, `dev`, a file, or hf:NAME"
    )
    create.add_argument(
        "--per-item", type=positive_int, required=True, metavar="K", help="how many different annotators label each item"
    )
    create.add_argument("--name", default=None, help="batch name (default MODEL-vs-BASELINE-SET, or MODEL-rated-SET)")
    create.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="only N items: the first N shared prompts, or K chosen by --select",
    )
    create.add_argument(
        "--select",
        choices=SELECTIONS,
        default=None,
        help="pairwise, with --limit K: a seeded random sample of K shared prompts, or K draws weighted "
        "to the prompts the judges are unsure of (stored with their weights, so estimates stay unbiased); "
        "default: the first N shared prompts",
    )
    create.add_argument(
        "--seed", type=int, default=None, help="seed of the per-item A/B order and of --select (default: from the name)"
    )
    create.add_argument(
        "--invite", nargs="+", default=None, metavar="WHO", help="also print an annotation link for each of these annotators"
    )
    annotate_invite.add_link_flags(create)
    add_db_flag(create)
    add_json_flag(create)
    create.set_defaults(handler=run_create)

    annotate_invite.register_actions(actions)
    status = actions.add_parser("status", help="batches' progress; per annotator labels, time per label, agreement")
    add_db_flag(status)
    add_json_flag(status)
    status.set_defaults(handler=annotate_status.run_status)
    annotate_exchange.register_actions(actions)


def _prompt_set_name(store: Store, spec: str) -> str:
    """A set already in the store is used as stored; anything else is loaded and saved first."""
    from evalkit.store.prompt_set_lookup import has_prompt_set

    if has_prompt_set(store, spec):
        return spec
    from evalkit.data import load_prompt_set

    prompt_set = load_prompt_set(spec)
    store.save_prompt_set(prompt_set)
    return prompt_set.name


def _create(store: Store, args: argparse.Namespace, set_name: str) -> tuple[str, int, int]:
    """(batch name, id, items) of the new batch of either mode."""
    from evalkit.store.annotations import create_batch
    from evalkit.store.label_batches import batch_exists
    from evalkit.store.ratings import create_rating_batch

    if args.mode == "absolute":
        name = args.name or f"{'+'.join(args.models)}-rated-{set_name}"
        batch, n_items = create_rating_batch(
            store, name, [store.model_id(m) for m in args.models], set_name, args.per_item, seed=args.seed, limit=args.limit
        )
        return name, batch, n_items
    if len(args.models) != 2:
        raise EvalkitError(f"a pairwise batch compares two models (--models MODEL BASELINE), got {len(args.models)}")
    model, baseline = args.models
    name = args.name or f"{model}-vs-{baseline}-{set_name}"
    if batch_exists(store, name):  # before the answers are looked up: the name is the first thing wrong
        raise EvalkitError(f"annotation batch {name!r} already exists; pick another --name")
    model_id, baseline_id = store.model_id(model), store.model_id(baseline)
    drawn = None
    if args.select:
        from evalkit.jobs.annotation_selection import seed_of, select_prompts

        selection = select_prompts(store, model_id, baseline_id, set_name, args.select, args.limit, seed_of(name, args.seed))
        if selection.note:
            print(selection.note, file=sys.stderr)
        drawn = selection.drawn
    batch, n_items = create_batch(
        store, name, model_id, baseline_id, set_name, args.per_item, seed=args.seed, limit=args.limit, drawn=drawn
    )
    return name, batch, n_items


def _check_select(args: argparse.Namespace) -> None:
    """--select needs K (--limit) and a pairwise batch: checked before the store is opened."""
    if args.select is None:
        return
    if args.mode != "pairwise":
        raise EvalkitError(f"--select {args.select} chooses the prompts of a pairwise batch; drop it or use --mode pairwise")
    if args.limit is None:
        raise EvalkitError(f"--select {args.select} needs --limit K (how many items the batch labels)")


def run_create(args: argparse.Namespace) -> int:
    from evalkit.core.settings import db_url
    from evalkit.store import Store
    from evalkit.store.invitations import parse_duration

    _check_select(args)
    store = Store(db_url(args.db))
    parse_duration(args.expires)  # a bad --expires fails before the batch is made
    set_name = _prompt_set_name(store, args.prompts)
    name, batch, n_items = _create(store, args, set_name)
    summary = {
        "batch": name,
        "id": batch,
        "mode": args.mode,
        "items": n_items,
        "per_item": args.per_item,
        "labels_needed": n_items * args.per_item,
    }
    if args.select:
        summary["select"] = args.select
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"batch {name!r} ({args.mode}): {n_items} items x {args.per_item} annotators = {n_items * args.per_item} "
            "labels; annotators label it on the leaderboard's Annotate page through their links "
            "(`evalkit annotate invite`)"
        )
    if args.invite:
        annotate_invite.print_invitations(store, name, args.invite, args.base_url, args.expires)
    return 0
