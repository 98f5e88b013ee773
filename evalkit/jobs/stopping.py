"""`--stop-when-decided`: judge a run's checkpoints in rounds over a seeded order of the prompts, and stop
judging each one once the rule of evalkit/decision/stopping.py says its comparison with the best is
decided (the rule, its validity and its caveat are documented there).

Every checkpoint is generated first (evaluation._evaluate); then each round extends the prefix of the
seeded order that every checkpoint still being judged gets, for every judge of the run (Likert too),
so a stopped checkpoint costs nothing more. Judgments are keyed by content, so the prefix of a re-run
finds what the last run stored and pays only for the rest: a run stopped by --max-cost, re-run with a
larger budget, continues where it stopped, and a later run without the flag judges only what is missing.
The stops are never stored as a flag: `pick` derives them from what was judged (`judged_counts`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evalkit.core.records import GenerationSetKey, JudgeIdentity
from evalkit.decision.stopping import review_round, seeded_order
from evalkit.decision.stopping_record import StoppingRecord, stopping_record
from evalkit.decision.stopping_settings import StoppingSettings
from evalkit.results.summary import Scope, select
from evalkit.results.tables import Tables, read_tables
from evalkit.stats.summary import preference_column
from evalkit.stats.winrate import preference_unit
from evalkit.store import Store
from evalkit.store.judgment_costs import judgment_costs

if TYPE_CHECKING:
    from evalkit.jobs.evaluation import CheckpointOutcome, RunReport

# Judges one checkpoint on the given prompts with every judge of the run; returns the judge job reports.
JudgePrefix = Callable[["CheckpointOutcome", set[str]], list[dict[str, Any]]]
SUMMED = ("requests", "stored", "errors", "prompt_tokens", "completion_tokens", "cost_usd", "wall_s")


@dataclass(frozen=True)
class CheckpointStop:
    """A checkpoint the run stopped judging before the end of the prompt set, and why."""

    checkpoint: str
    judged: int
    prompts: int
    reason: str

    def line(self) -> str:
        return f"{self.checkpoint}: {self.reason}; judged on {self.judged} of {self.prompts} prompts"


def merge_jobs(earlier: list[dict[str, Any]], latest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One report per judge job over all rounds: counters summed; `cached` = what was stored before this
    invocation (each round counts the earlier rounds' judgments as cached); `items` the last prefix's."""
    if not earlier:
        return latest
    merged = []
    for before, now in zip(earlier, latest, strict=True):
        job = {**now, **{key: before.get(key, 0) + now.get(key, 0) for key in SUMMED}}
        job["wall_s"] = round(job["wall_s"], 3)
        job["cached"] = now["cached"] - before["stored"]
        job["budget_stopped"] = bool(before.get("budget_stopped") or now.get("budget_stopped"))
        if "first_error" in before:
            job["first_error"] = before["first_error"]
        merged.append(job)
    return merged


def units_matrix(comparisons: pd.DataFrame, order: Sequence[str], keys: Sequence[GenerationSetKey]) -> np.ndarray:
    """The headline judge's per-prompt preference units (results layer's definition: 1 win, 1/2 tie, 0
    loss, NaN invalid), prompts in `order` x generation sets `keys`; NaN where not judged."""
    units = np.full((len(order), len(keys)), np.nan)
    if comparisons.empty:
        return units
    frame = comparisons.assign(unit=preference_unit(preference_column(comparisons)))
    means = frame.groupby(["prompt_hash", "model_id", "decoding"])["unit"].mean()
    row = {prompt: i for i, prompt in enumerate(order)}
    column = {(int(model), str(decoding)): j for j, (model, decoding) in enumerate(keys)}
    for (prompt, model, decoding), value in means.items():
        i, j = row.get(prompt), column.get((int(model), str(decoding)))
        if i is not None and j is not None:
            units[i, j] = value
    return units


def headline_tables(
    store: Store, prompts: Sequence[str], keys: Sequence[GenerationSetKey], headline: JudgeIdentity, baseline: GenerationSetKey
) -> Tables:
    scope = Scope(frozenset(prompts), frozenset(keys), frozenset({headline}), baseline)
    return select(read_tables(store, instructions=False, kinds=[headline.kind]), scope)


def judge_in_rounds(
    store: Store,
    outcomes: Sequence[CheckpointOutcome],
    prompt_hashes: Sequence[str],
    headline: JudgeIdentity | None,
    baseline: GenerationSetKey,
    settings: StoppingSettings,
    seed: int,
    judge_prefix: JudgePrefix,
    progress: bool = True,
) -> list[CheckpointStop]:
    """Judge the generated checkpoints round by round until each is stopped or judged on every prompt;
    returns the checkpoints stopped early. Epochs with identical weights (one generation set) are judged
    and stopped together. A budget stop ends the rounds (a re-run with a larger budget continues)."""
    order = seeded_order(prompt_hashes, seed)
    total = len(order)
    groups: dict[GenerationSetKey, list[CheckpointOutcome]] = {}
    for outcome in outcomes:
        if outcome.generation_set is not None:
            groups.setdefault(outcome.generation_set, []).append(outcome)
    keys = list(groups)
    if headline is None or len(keys) < 2:  # no comparison to decide: judged in full
        if headline is None and progress:
            print("--stop-when-decided needs a judge that compares with the baseline; judging every prompt", file=sys.stderr)
        for outcome in (o for key in keys for o in groups[key]):
            outcome.jobs = judge_prefix(outcome, set(order))
        return []
    size = settings.size_for(total)
    active = np.ones(len(keys), dtype=bool)
    judged = np.zeros(len(keys), dtype=np.int64)
    stops: list[CheckpointStop] = []
    prefix = 0
    while active.any() and prefix < total:
        prefix = min(total, prefix + size)
        chosen = set(order[:prefix])
        budget_stopped = False
        for i in np.flatnonzero(active):
            judged[i] = prefix
            for outcome in groups[keys[i]]:
                jobs = judge_prefix(outcome, chosen)
                outcome.jobs = merge_jobs(outcome.jobs, jobs)
                budget_stopped |= any(job.get("budget_stopped") for job in jobs)
        if progress:
            print(f"judged {int(active.sum())} checkpoints on {prefix} of {total} prompts", file=sys.stderr)
        if budget_stopped:
            break
        tables = headline_tables(store, order, keys, headline, baseline)
        units = units_matrix(tables.comparisons[headline.mask(tables.comparisons)], order, keys)
        # Only each checkpoint's prefix counts, though an earlier run may have stored more: a re-run
        # then replays the same rounds and stops.
        units[np.arange(total)[:, None] >= judged[None, :]] = np.nan
        for i, reason in enumerate(review_round(units, judged, active, total, settings.alpha)):
            if reason is None:
                continue
            active[i] = False
            if judged[i] < total:
                stops += [CheckpointStop(o.checkpoint.name, int(judged[i]), total, reason) for o in groups[keys[i]]]
    return stops


def judged_counts(tables: Tables, key: GenerationSetKey, headline: JudgeIdentity) -> tuple[int, int]:
    """(prompts the headline judge judged `key` on, judgments of every judge in `tables` for `key`): a
    pairwise row holds both shown orders (2 judgments), an alpaca or single row one."""
    model, decoding = key

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        return frame[(frame["model_id"] == model) & (frame["decoding"] == decoding)]

    comparisons = rows(tables.comparisons)
    prompts = comparisons[headline.mask(comparisons)]["prompt_hash"].nunique() if len(comparisons) else 0
    judgments = 2 * len(rows(tables.pairwise)) + len(rows(tables.alpaca)) + len(rows(tables.single))
    return int(prompts), int(judgments)


def pick_stopping(
    store: Store, tables: Tables, report: RunReport, checkpoints: pd.DataFrame, headline: JudgeIdentity
) -> StoppingRecord:
    """The pick's `stopping` record from the run's scoped tables (`checkpoints`: model_id and name of each
    checkpoint picked from); saved 0 when every checkpoint was judged on every prompt."""
    decodings = dict(report.generation_sets)
    keys = [
        (str(name), GenerationSetKey(int(model), decodings[int(model)]))
        for model, name in zip(checkpoints["model_id"], checkpoints["name"], strict=True)
    ]
    counts = [(name, *judged_counts(tables, key, headline)) for name, key in keys]
    costs = judgment_costs(store, [key for _, key in keys], [judge.spec_hash for judge in report.judges])
    return stopping_record(len(report.prompt_set.prompts), counts, costs.mean_usd)
