"""`evalkit annotate invite | revoke | invitations`: the links annotators open.

The link is printed on the last line of stdout and nowhere else: it is the only copy of the token
(the store keeps its hash), so give it to the annotator and do not paste it into shared logs.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from evalkit.cli.commands.common import add_db_flag, add_json_flag
from evalkit.core.settings import DEFAULT_LEADERBOARD_URL

if TYPE_CHECKING:
    from evalkit.store import Store

DEFAULT_EXPIRY = "7d"


def add_link_flags(parser: argparse.ArgumentParser) -> None:

    parser.add_argument(
        "--base-url",
        default=DEFAULT_LEADERBOARD_URL,
        help=f"where annotators reach `evalkit leaderboard` (default {DEFAULT_LEADERBOARD_URL})",
    )
    parser.add_argument(
        "--expires",
        default=DEFAULT_EXPIRY,
        metavar="DURATION",
        help=f"how long the link works: e.g. 12h, 7d, 2w (default {DEFAULT_EXPIRY})",
    )


def register_actions(actions: argparse._SubParsersAction) -> None:
    invite = actions.add_parser("invite", help="print a personal annotation link for one annotator and batch")
    invite.add_argument("--batch", required=True, help="batch name")
    invite.add_argument("--annotator", required=True, metavar="WHO", help="the annotator's name, stored with each label")
    add_link_flags(invite)
    add_db_flag(invite)
    invite.set_defaults(handler=run_invite)

    revoke = actions.add_parser("revoke", help="end an annotator's links to a batch (their labels stay)")
    revoke.add_argument("--batch", required=True, help="batch name")
    revoke.add_argument("--annotator", required=True, metavar="WHO")
    add_db_flag(revoke)
    revoke.set_defaults(handler=run_revoke)

    listing = actions.add_parser("invitations", help="list invitations and their state (never the links)")
    listing.add_argument("--batch", default=None, help="only this batch")
    add_db_flag(listing)
    add_json_flag(listing)
    listing.set_defaults(handler=run_invitations)


def print_invitations(store: Store, batch: str, annotators: list[str], base_url: str, expires: str) -> None:
    """One line per annotator, the link last on it, so `tail -1` of a single invitation is the link."""
    from evalkit.store.invitations import invite, parse_duration

    duration = parse_duration(expires)
    links = [(who, invite(store, batch, who, duration, base_url)) for who in annotators]
    for who, link in links:
        print(link if len(links) == 1 else f"{who}: {link}")


def run_invite(args: argparse.Namespace) -> int:
    from evalkit.core.settings import db_url
    from evalkit.store import Store

    store = Store(db_url(args.db))
    print(
        f"invitation for {args.annotator.strip()!r} to batch {args.batch!r}, valid {args.expires}; "
        "send them this link (it is not stored anywhere):"
    )
    print_invitations(store, args.batch, [args.annotator], args.base_url, args.expires)
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from evalkit.core.settings import db_url
    from evalkit.store import Store
    from evalkit.store.invitations import revoke

    ended = revoke(Store(db_url(args.db)), args.batch, args.annotator)
    print(f"revoked {ended} invitation(s) of {args.annotator!r} to batch {args.batch!r}")
    return 0


def run_invitations(args: argparse.Namespace) -> int:
    from evalkit.core.settings import db_url
    from evalkit.store import Store
    from evalkit.store.invitations import invitations

    frame = invitations(Store(db_url(args.db), read_only=True), args.batch)
    if args.json:
        print(
            json.dumps(
                [
                    {k: (str(v) if k.endswith("_at") and v is not None else v) for k, v in row.items()}
                    for row in frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
                ]
            )
        )
        return 0
    for row in frame.itertuples():
        print(f"#{row.id} {row.batch_name}: {row.annotator}, {row.state} (expires {row.expires_at:%Y-%m-%d %H:%M} UTC)")
    return 0
