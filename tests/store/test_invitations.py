"""Invitation links: random tokens stored only as hashes, expiry and revocation, the CLI contract
(the link on stdout's last line), and `evalkit annotate status` per annotator."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select, update

from bench.leaderboard_data import populate
from evalkit.cli.main import main as cli_main
from evalkit.core.errors import EvalkitError
from evalkit.store import Store
from evalkit.store import annotations as ann
from evalkit.store import invitations as inv
from evalkit.store import schema as t


@pytest.fixture()
def batch(store: Store) -> str:
    data = populate(store, runs=1, epochs=2, prompts=6, with_decisions=False)
    ann.create_batch(store, "team", store.model_id(data.checkpoints[-1]), store.model_id(data.baselines[0]), "bench", 3, limit=4)
    return "team"


def _token(link: str) -> str:
    return parse_qs(urlparse(link).query)["token"][0]


def test_tokens_are_random_and_stored_only_as_hashes(store: Store, batch: str, db_url: str) -> None:
    links = [inv.invite(store, batch, "alice", dt.timedelta(days=1), "http://127.0.0.1:9000") for _ in range(3)]
    tokens = [_token(link) for link in links]
    assert all(link.startswith("http://127.0.0.1:9000/annotate?token=") for link in links)
    assert len(set(tokens)) == 3 and all(len(token) >= 43 for token in tokens)  # 32 random bytes, base64url
    stored = store.frame(select(t.annotation_invitations))
    assert sorted(stored["token_hash"]) == sorted(hashlib.sha256(tk.encode()).hexdigest() for tk in tokens)
    raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
    assert not any(token.encode() in raw for token in tokens)  # nowhere in the database file in clear
    found = inv.check(store, tokens[0])
    assert found is not None and (found.annotator, found.batch_name, found.kind) == ("alice", batch, "pairwise")


def test_wrong_expired_and_revoked_tokens_open_nothing(store: Store, batch: str) -> None:
    alice = _token(inv.invite(store, batch, "alice", dt.timedelta(hours=1)))
    bob = _token(inv.invite(store, batch, "bob", dt.timedelta(hours=1)))
    assert inv.check(store, None) is None and inv.check(store, "") is None
    assert inv.check(store, alice[:-1] + ("A" if alice[-1] != "A" else "B")) is None
    with store.engine.begin() as conn:  # alice's invitation ran out a second ago
        conn.execute(
            update(t.annotation_invitations)
            .where(t.annotation_invitations.c.annotator == "alice")
            .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
        )
    assert inv.check(store, alice) is None
    assert inv.check(store, bob).annotator == "bob"
    assert inv.revoke(store, batch, "bob") == 1
    assert inv.check(store, bob) is None
    with pytest.raises(EvalkitError, match="no live invitation"):
        inv.revoke(store, batch, "bob")
    assert inv.invitations(store).set_index("annotator")["state"].to_dict() == {"alice": "expired", "bob": "revoked"}


def test_invitation_errors(store: Store, batch: str) -> None:
    with pytest.raises(EvalkitError, match="does not exist"):
        inv.invite(store, "nope", "alice", dt.timedelta(days=1))
    with pytest.raises(EvalkitError, match="--annotator"):
        inv.invite(store, batch, "  ", dt.timedelta(days=1))
    with pytest.raises(EvalkitError, match="--annotator: annotator name is 201 characters; at most 200"):
        inv.invite(store, batch, "x" * 201, dt.timedelta(days=1))  # PostgreSQL would refuse it mid-write
    assert inv.parse_duration("90m") == dt.timedelta(minutes=90) and inv.parse_duration("2w") == dt.timedelta(days=14)
    for bad in ("7", "0d", "7y", "-1d"):
        with pytest.raises(EvalkitError, match="--expires"):
            inv.parse_duration(bad)


def test_cli_prints_the_link_last_and_nothing_else_holds_it(
    store: Store, batch: str, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli_main(
            [
                "annotate",
                "invite",
                "--batch",
                batch,
                "--annotator",
                "carol",
                "--db",
                db_url,
                "--base-url",
                "http://127.0.0.1:8765",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    link = out.out.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8765/annotate?token=")
    assert inv.check(store, _token(link)).annotator == "carol"
    assert cli_main(["annotate", "invitations", "--db", db_url, "--json"]) == 0
    listing = capsys.readouterr().out
    assert json.loads(listing)[0]["state"] == "live" and _token(link) not in listing
    assert "token_hash" not in listing
    assert cli_main(["annotate", "invite", "--batch", batch, "--annotator", "x", "--expires", "soon", "--db", db_url]) == 2
    assert "--expires" in capsys.readouterr().err
    assert cli_main(["annotate", "revoke", "--batch", batch, "--annotator", "carol", "--db", db_url]) == 0
    assert inv.check(store, _token(link)) is None


def test_create_hands_out_a_link_in_the_same_command(
    store: Store, batch: str, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli_main(
            [
                "annotate",
                "create",
                "--models",
                "run-0/epoch-1",
                "alpaca-65b",
                "--prompts",
                "bench",
                "--per-item",
                "2",
                "--name",
                "solo",
                "--invite",
                "dana",
                "--db",
                db_url,
            ]
        )
        == 0
    )
    link = capsys.readouterr().out.strip().splitlines()[-1]
    found = inv.check(store, _token(link))
    assert (found.annotator, found.batch_name) == ("dana", "solo")
    assert link.startswith(inv.DEFAULT_BASE_URL + "/annotate?token=")


def test_status_per_annotator(store: Store, batch: str, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Labels done, median gap between consecutive labels, tie-discounted agreement with the mode of the
    others, all checked by hand."""
    batch_id = ann.batch_id(store, batch)
    items = list(
        store.frame(
            select(t.annotation_items.c.id)
            .where(t.annotation_items.c.batch_id == batch_id)
            .order_by(t.annotation_items.c.position)
        )["id"]
    )[:2]
    given = {"ann": ["A", "A"], "bob": ["A", "B"], "cat": ["A", "B"]}
    for annotator, labels in given.items():
        for item, label in zip(items, labels):
            assert ann.add_label(store, annotator, int(item), label, source="test")
    start = dt.datetime(2026, 1, 1, 12, 0, 0)
    with store.engine.begin() as conn:  # ann labelled at 0 s and 30 s; the others at 0 s and 10 s
        for annotator, gap in (("ann", 30), ("bob", 10), ("cat", 10)):
            for k, item in enumerate(items):
                conn.execute(
                    update(t.human_labels)
                    .where(t.human_labels.c.annotator == annotator, t.human_labels.c.item_id == int(item))
                    .values(created_at=start + dt.timedelta(seconds=gap * k))
                )
    assert cli_main(["annotate", "status", "--db", db_url, "--json"]) == 0
    status = {b["name"]: b for b in json.loads(capsys.readouterr().out)}[batch]
    rows = {row["annotator"]: row for row in status["annotators"]}
    assert {k: v["labels"] for k, v in rows.items()} == {"ann": 2, "bob": 2, "cat": 2}
    assert rows["ann"]["seconds_per_label"] == pytest.approx(30) and rows["bob"]["seconds_per_label"] == pytest.approx(10)
    # ann vs the others' mode: item 1 A vs A (1), item 2 A vs B (0) -> 0.5; bob vs mode(ann, cat) on item 2 is a
    # two-way tie, so only ann's and the unanimous first item are checked by hand
    assert rows["ann"]["agreement"] == pytest.approx(0.5)
    assert cli_main(["annotate", "status", "--db", db_url]) == 0
    text = capsys.readouterr().out
    assert "ann: 2 labels, 30.0 s per label, tie-discounted vs the others' mode 0.500" in text
