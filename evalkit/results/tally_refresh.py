"""Per-prompt tallies brought up to date by reading only what changed: the materialised summaries a
large store's leaderboard refreshes incrementally.

A checkpoint just judged adds ~5k judgments to a store of millions; reading every model's tallies
again costs a minute at 5M judgments, reading that one model's a few seconds. `refresh_tallies`
re-reads the models that judgments newer than the previous state are about and keeps every other
model's rows. It reads everything again when there is no previous state, when judgment uses appeared
that no new judgment explains (a cached judgment reused for an identical answer) or disappeared (a
deletion), when the first or the last judgment the previous state saw is no longer the same judgment
(a store deleted and written again reuses its ids), or when a judge kind changed verdict type. The
watermark is read before the tallies, so a judgment written meanwhile is read again by the next
refresh, never lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.results.tally_summary import PromptTallies
from evalkit.store import aggregates
from evalkit.store.store import Store


@dataclass(frozen=True)
class WatermarkedTallies:
    """Tallies and the store state they cover: judgments up to `max_judgment_id`, `n_uses` uses, and
    `anchors`, the cache keys of the first judgment and of judgment `max_judgment_id`."""

    tallies: PromptTallies
    max_judgment_id: int
    n_uses: int
    anchors: tuple[str | None, str | None]


def anchors_of(store: Store, max_judgment_id: int) -> tuple[str | None, str | None]:
    """The cache keys of judgment 1 and of judgment `max_judgment_id` (ids start at 1 on both databases)."""
    first, last = aggregates.judgment_keys(store, [1, max_judgment_id])
    return first, last


@dataclass(frozen=True)
class Refreshed:
    """The refreshed tallies and how they were obtained: `reread` models read again (None: all)."""

    state: WatermarkedTallies
    reread: frozenset[int] | None


def refresh_tallies(store: Store, previous: WatermarkedTallies | None = None) -> Refreshed:
    """The store's per-prompt tallies now, reading only the models judged since `previous`."""
    highest, uses = aggregates.watermark(store)
    anchors = anchors_of(store, highest)

    def everything() -> Refreshed:
        return Refreshed(WatermarkedTallies(PromptTallies.read(store), highest, uses, anchors), None)

    if previous is None or anchors_of(store, previous.max_judgment_id) != previous.anchors:
        return everything()
    models, new_uses = aggregates.changed_since(store, previous.max_judgment_id)
    if uses - previous.n_uses != new_uses:
        return everything()
    if not models:
        return Refreshed(WatermarkedTallies(previous.tallies, highest, uses, anchors), frozenset())
    changed = sorted(models)
    try:
        tallies = previous.tallies.replaced(PromptTallies.read(store, changed), changed)
    except ValueError:  # a judge kind changed verdict type: its rows of unchanged models moved tables too
        return everything()
    return Refreshed(WatermarkedTallies(tallies, highest, uses, anchors), frozenset(changed))
