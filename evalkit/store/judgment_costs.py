"""What judging cost: the stored cost of the judgments of given generation sets by given judges (what
`pick` uses to put a price on the judgments `--stop-when-decided` saved)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select

from evalkit.store import schema as t
from evalkit.store.store import Store


@dataclass(frozen=True)
class JudgmentCosts:
    """`judgments` with a stored cost and their `total_usd` (0 judgments: no cost is known)."""

    judgments: int
    total_usd: float

    @property
    def mean_usd(self) -> float | None:
        return self.total_usd / self.judgments if self.judgments else None


def judgment_costs(
    store: Store, generation_sets: Collection[tuple[int, str]], judge_spec_hashes: Collection[str]
) -> JudgmentCosts:
    """The stored costs of every judgment used for one of `generation_sets` (model id, decoding hash; the
    judged answer's side) by a judge with one of `judge_spec_hashes`; each judgment counted once."""
    if not generation_sets or not judge_spec_hashes:
        return JudgmentCosts(0, 0.0)
    j, u, g = t.judgments, t.judgment_uses, t.generations
    judged = (
        select(u.c.cache_key)
        .join(g, g.c.id == u.c.generation_a)
        .where(or_(*(and_(g.c.model_id == model, g.c.decoding_hash == decoding) for model, decoding in generation_sets)))
    )
    query = select(func.count(j.c.cost_usd), func.coalesce(func.sum(j.c.cost_usd), 0.0)).where(
        j.c.cache_key.in_(judged), j.c.judge_spec_hash.in_(list(judge_spec_hashes))
    )
    with store.engine.connect() as conn:
        count, total = conn.execute(query).one()
    return JudgmentCosts(int(count), float(total))
