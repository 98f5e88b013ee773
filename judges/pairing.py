"""What to judge: one generation set's answers (a model under one decoding configuration), alone or
paired with a baseline's on the same prompt, as work items with their cache keys.

A cache key covers everything that changes a verdict — the judge's spec hash (template hash, parse
rule, sampling), the judge model, the prompt, the exact texts shown, the order and the judge sample —
and nothing that does not (who generated the texts, concurrency, timeouts). A multi-turn prompt's
key also covers the conversation shown before the final question; a single-turn prompt's key is the
one it always had.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from evalkit.core.chatml import has_turn_markup
from evalkit.core.hashing import content_hash
from evalkit.core.records import context_of
from evalkit.judges.base import Judge, LLMJudge, SlotTexts
from evalkit.store.catalog_reads import reference_answers
from evalkit.store.store import Store

CONTEXT_RENDERING = "context-v1"  # bump when evalkit.core.conversation changes how a conversation is shown
# Texts with chat turn markers are shown escaped (evalkit.core.chatml.inert) since issue 23; their earlier
# judgments saw the markers raw, so such items get keys of their own. Other keys are unchanged.
INERT_RENDERING = "inert-v1"


@dataclass(frozen=True)
class Item:
    cache_key: str
    judge_kind: str
    prompt_hash: str
    generation_a: int  # the evaluated model's generation
    generation_b: int | None  # the baseline's (pairwise)
    order: str | None
    sample: int
    texts: SlotTexts

    @property
    def use(self) -> tuple[str, int, int | None]:
        return (self.cache_key, self.generation_a, self.generation_b)


def cache_key(judge: Judge, judge_kind: str, prompt_hash: str, texts: SlotTexts, order: str | None, sample: int) -> str:
    reference = None if isinstance(judge, LLMJudge) else texts.reference  # only the offline judge reads it
    parts: list[object] = [
        "judgment-v1",
        judge_kind,
        judge.spec_hash,
        judge.judge_model,
        prompt_hash,
        texts.output,
        texts.baseline,
        reference,
        order,
        sample,
    ]
    if texts.context:
        parts += [CONTEXT_RENDERING, [dict(m) for m in texts.context]]
    if isinstance(judge, LLMJudge) and _shows_turn_markup(texts):
        parts.append(INERT_RENDERING)
    return content_hash(parts)


def _shows_turn_markup(texts: SlotTexts) -> bool:
    shown = [texts.instruction, texts.output, texts.baseline, *(m.get("content") for m in texts.context)]
    return any(has_turn_markup(text) for text in shown)


def answers(store: Store, model_id: int, decoding_hash: str, sample: int, prompt_hashes: Collection[str] | None) -> pd.DataFrame:
    """One generation set's answers of one sample index: id, prompt_hash, instruction, messages, text."""
    frame = store.generations(model_id=model_id, decoding_hash=decoding_hash)
    frame = frame[frame["sample"] == sample]
    if prompt_hashes is not None:
        frame = frame[frame["prompt_hash"].isin(set(prompt_hashes))]
    return frame[["id", "prompt_hash", "instruction", "messages", "text"]]


def _texts(
    instruction: str, messages: list[dict[str, str]], output: str, baseline: str | None, reference: str | None
) -> SlotTexts:
    return SlotTexts(instruction, output, baseline, reference, context_of(list(messages)))


def pair_items(
    store: Store,
    judge: Judge,
    judge_kind: str,
    model: tuple[int, str],
    baseline: tuple[int, str],
    *,
    sample: int = 0,
    prompt_hashes: Collection[str] | None = None,
    with_reference: bool = False,
) -> tuple[list[Item], int]:
    """Items for every prompt both generation sets answered, one per shown order the judge uses; and
    how many pairs were left out for lack of a reference answer (only when `with_reference`)."""
    ours = answers(store, *model, sample, prompt_hashes)
    theirs = answers(store, *baseline, sample, prompt_hashes)
    pairs = ours.merge(theirs[["id", "prompt_hash", "text"]], on="prompt_hash", suffixes=("_model", "_baseline"))
    refs = reference_answers(store, pairs["prompt_hash"]) if with_reference else {}
    items: list[Item] = []
    missing = 0
    for row in pairs.itertuples():
        texts = _texts(row.instruction, row.messages, row.text_model, row.text_baseline, refs.get(row.prompt_hash))
        if with_reference and texts.reference is None:
            missing += 1
            continue
        orders = judge.orders(texts.instruction) if isinstance(judge, LLMJudge) else ("AB", "BA")
        for order in orders:
            key = cache_key(judge, judge_kind, row.prompt_hash, texts, order, 0)
            items.append(Item(key, judge_kind, row.prompt_hash, int(row.id_model), int(row.id_baseline), order, 0, texts))
    return items, missing


def single_items(
    store: Store,
    judge: Judge,
    judge_kind: str,
    model: tuple[int, str],
    *,
    samples: int = 1,
    sample: int = 0,
    prompt_hashes: Collection[str] | None = None,
    with_reference: bool = False,
) -> tuple[list[Item], int]:
    """Items grading each of a generation set's answers `samples` times; and how many lacked a reference."""
    ours = answers(store, *model, sample, prompt_hashes)
    refs = reference_answers(store, ours["prompt_hash"]) if with_reference else {}
    items: list[Item] = []
    missing = 0
    for row in ours.itertuples():
        texts = _texts(row.instruction, row.messages, row.text, None, refs.get(row.prompt_hash))
        if with_reference and texts.reference is None:
            missing += 1
            continue
        for judge_sample in range(samples):
            key = cache_key(judge, judge_kind, row.prompt_hash, texts, None, judge_sample)
            items.append(Item(key, judge_kind, row.prompt_hash, int(row.id), None, None, judge_sample, texts))
    return items, missing
