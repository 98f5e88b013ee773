"""Judges asked on the humans' pairs through the store's judge runner, so every call is cached,
budgeted and resumable like any `evalkit judge` call.

The pairs go into the store as two imported pseudo-models' answers ("output_1" and "output_2" of the
human set), one prompt per instruction. One instruction can carry several pairs (MT-Bench: many model
pairs per question), so the n-th pair of an instruction is stored as generation sample n. Items are
built here with the runner's own cache key; verdicts are read back by those keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.core.records import GenerationResult, ModelInfo, Prompt, PromptSet
from evalkit.core.vocabulary import LABELS_BY_PREFERENCE, NOT_JUDGED, UNPARSEABLE_REPLY, own_order
from evalkit.data.human_labels import LabelledPairs
from evalkit.judge_eval.align import VERDICT_COLUMNS, JudgeVerdicts
from evalkit.judges.base import LLMJudge, SlotTexts
from evalkit.judges.pairing import Item, cache_key
from evalkit.judges.registry import make_judge
from evalkit.judges.runner import RunOptions, run_items
from evalkit.stats.agreement import label_codes, position_consistency
from evalkit.stats.judge_quality import combine_orders
from evalkit.store.judgment_reads import judgment_outcomes
from evalkit.store.store import Store


def run_options(*, prices: str | None = None, **fields: Any) -> RunOptions:
    from evalkit.core.settings import resolve

    path = resolve("prices", prices, None)
    if path:
        from evalkit.judges.pricing import load_price_table

        return RunOptions(prices=load_price_table(path), **fields)
    return RunOptions(**fields)


def _import_pairs(store: Store, humans: LabelledPairs) -> pd.DataFrame:
    """Store the pairs; return them with prompt_hash and both generation ids."""
    pairs = humans.pairs
    if pairs[["instruction", "output_1", "output_2"]].isna().any(axis=None):
        raise EvalkitError(
            f"{humans.path}: its pairs have no texts ({humans.format} format), so no judge can be run on "
            "them; pass the judges' verdicts with --judge-labels, or use a file with the answers"
        )
    pairs = pairs.assign(sample=pairs.groupby("instruction").cumcount())
    instructions = list(dict.fromkeys(pairs["instruction"]))
    prompts = tuple(Prompt(id=str(i), messages=({"role": "user", "content": text},)) for i, text in enumerate(instructions))
    set_hash = content_hash(pairs[["item", "instruction", "output_1", "output_2"]].to_numpy().tolist())
    name = f"judge-quality:{Path(humans.path).stem}:{set_hash[:8]}"
    store.save_prompt_set(PromptSet(name, prompts, source=str(Path(humans.path).resolve())))
    hashes = dict(zip(instructions, (p.hash for p in prompts)))
    pairs = pairs.assign(prompt_hash=pairs["instruction"].map(hashes))
    for side in ("output_1", "output_2"):
        model_id = store.register_model(
            ModelInfo(
                name=f"{name}:{side}", fingerprint=content_hash([name, side, set_hash]), path=str(Path(humans.path).resolve())
            )
        )
        store.add_generations(
            model_id,
            None,
            "import",
            [GenerationResult(h, int(s), text) for h, s, text in zip(pairs["prompt_hash"], pairs["sample"], pairs[side])],
        )
        stored = store.generations(model_id=model_id)
        ids = {(h, int(s)): int(i) for h, s, i in zip(stored["prompt_hash"], stored["sample"], stored["id"])}
        pairs[f"generation_{side[-1]}"] = [ids[(h, int(s))] for h, s in zip(pairs["prompt_hash"], pairs["sample"])]
    return pairs


def _items(judge: LLMJudge, pairs: pd.DataFrame, samples: int) -> list[tuple[str, Item]]:
    """(humans' item id, runner item) for every pair, shown order and judge sample."""
    out = []
    for row in pairs.itertuples(index=False):
        texts = SlotTexts(row.instruction, row.output_1, row.output_2)  # output_1 in the "evaluated model" slot
        for order in judge.orders(row.instruction):
            for sample in range(samples):
                key = cache_key(judge, judge.kind, row.prompt_hash, texts, order, sample)
                out.append(
                    (row.item, Item(key, judge.kind, row.prompt_hash, row.generation_1, row.generation_2, order, sample, texts))
                )
    return out


def _reason(label: Any, stored: Any, kept: bool) -> str | None:
    """Why one shown order has no label (None or NaN in the frame): its stored reason (an unreadable
    reply when stored without one), or NOT_JUDGED when nothing was stored."""
    if isinstance(label, str):
        return None
    if not kept:
        return NOT_JUDGED
    return stored if isinstance(stored, str) and stored else UNPARSEABLE_REPLY


def _verdicts(store: Store, planned: list[tuple[str, Item]]) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """Rows (item, sample, label, cost_usd, seconds, invalid_reason) for every pair asked, and, when both
    orders were asked, position figures. A pair without a label is invalid: its first unreadable order's
    reason, or "not judged" when no judgment was stored (a failed request, a budget stop)."""
    plan = pd.DataFrame(
        {
            "item": [item for item, _ in planned],
            "key": [i.cache_key for _, i in planned],
            "order": [i.order for _, i in planned],
            "sample": [i.sample for _, i in planned],
        }
    )
    stored = judgment_outcomes(store, list(dict.fromkeys(plan["key"]))).rename(columns={"cache_key": "key"})
    rows = plan.merge(stored, on="key", how="left")  # not stored: failed transport or stopped by the budget
    stored_here = rows["valid"].notna()
    rows["shown"] = rows["verdict"].where(rows["valid"].fillna(False).astype(bool))
    rows["label"] = [own_order(o, v) for o, v in zip(rows["order"], rows["shown"])]
    rows["reason"] = [_reason(label, reason, kept) for label, reason, kept in zip(rows["label"], rows["reason"], stored_here)]
    orders = sorted(rows["order"].unique())
    wide = rows.pivot_table(index=["item", "sample"], columns="order", values="label", aggfunc="first", dropna=False)
    # the first shown order's reason when it is unreadable, else the second's
    first_reason = rows.sort_values("order", kind="stable").groupby(["item", "sample"])["reason"].first().reindex(wide.index)
    money = rows.groupby(["item", "sample"])[["cost_usd", "latency_s"]].sum(min_count=1)
    position = None
    if set(orders) == {"AB", "BA"}:
        both = rows.pivot_table(index=["item", "sample"], columns="order", values="shown", aggfunc="first", dropna=False)
        both = both.reindex(wide.index)
        position = position_consistency(both["AB"].tolist(), both["BA"].tolist())
        codes = combine_orders(label_codes(wide["AB"]), label_codes(wide["BA"]))
        labels = [LABELS_BY_PREFERENCE[c] if c >= 0 else None for c in codes]
    else:
        labels = [label if isinstance(label, str) else None for label in wide.iloc[:, 0]]
    out = pd.DataFrame(
        {
            "item": wide.index.get_level_values("item"),
            "sample": wide.index.get_level_values("sample"),
            "label": labels,
            "cost_usd": money["cost_usd"].reindex(wide.index).to_numpy(),
            "seconds": money["latency_s"].reindex(wide.index).to_numpy(),
        }
    )
    out["invalid_reason"] = [None if label is not None else reason for label, reason in zip(labels, first_reason.to_numpy())]
    return out[[*VERDICT_COLUMNS, "invalid_reason"]], position


def run_judges(
    store: Store,
    humans: LabelledPairs,
    specs: Sequence[str],
    *,
    judge_model: str | None,
    samples: int = 1,
    temperature: float | None = None,
    max_tokens: int | None = None,
    options: RunOptions | None = None,
) -> list[JudgeVerdicts]:
    """Ask each judge (`NAME[@MODEL]`) on every human-labelled pair (both orders where the judge
    shows both, K samples each), store everything, and return its verdicts on the humans' items."""
    pairs = _import_pairs(store, humans)
    served = options.served if options is not None else None
    out = []
    for spec in specs:
        name, _, model = ("", "", "") if Path(spec).is_file() else spec.partition("@")  # a spec file's path may hold "@"
        name = name or spec
        if served is not None and model:
            raise EvalkitError(f"judge {spec}: with --judge-checkpoint the judge is the served checkpoint; drop @{model}")
        judge = make_judge(
            name,
            judge_model=served.judge_model if served else model or judge_model,
            temperature=temperature,
            max_tokens=max_tokens,
            judge_fingerprint=served.fingerprint if served else None,
        )
        if not isinstance(judge, LLMJudge) or judge.mode != "pairwise":
            raise EvalkitError(
                f"judge {name!r} does not compare two answers with a model; judge-quality runs pairwise "
                "judges (pairwise, alpaca_eval, a pairwise SPEC.yaml)"
            )
        planned = _items(judge, pairs, samples)
        counters, _ = run_items(store, judge, [item for _, item in planned], options or RunOptions())
        if counters.errors and not counters.stored:
            raise EvalkitError(f"judge {spec}: every request failed ({len(counters.errors)}); first: {counters.errors[0]}")
        if not store.stored_judgment_keys({item.cache_key for _, item in planned}):
            raise EvalkitError(f"judge {spec}: no verdict stored (stopped by --max-cost before the first answer?)")
        verdicts, position = _verdicts(store, planned)
        details = {
            "source": "run",
            "judge_kind": judge.kind,
            "judge_model": judge.judge_model,
            "spec_hash": judge.spec_hash[:12],
            "requests": counters.requests,
            "failed": len(counters.errors),
            "budget_stopped": counters.budget_stopped,
        }
        out.append(JudgeVerdicts(f"{judge.kind}:{judge.judge_model}", verdicts, details, position))
    return out
