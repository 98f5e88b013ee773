"""The summary of any prompt scope, intervals included, from per-prompt tallies the database computes.

`summarize(read_tables(store), Scope(prompt_hashes=...))` reads every judgment into pandas: ~4.8 GB at
5M judgments. The database can instead tally each (judge, generation set[, baseline], prompt): pairs
won / tied / lost / invalid and the sums of their preferences, grades per point and each prompt's
mean grade (evalkit.store.aggregates). Everything `summarize` reports is a sum over such cells — the
counts, percentages, win rates and standard errors over a group's prompts (turned into figures by
evalkit.results.aggregated), and the bootstrap interval, which resamples prompts and so needs only each
(prompt, group)'s sum and count of valid values (stats.summary.intervals_of_cluster_sums, the code path
`summarize` itself takes). The few figures that need individual judgments come from slim queries:
invalid judgments by reason, and the out-of-range preferences whose discrete view AlpacaEval rounds.

`summarize_tallies(PromptTallies.read(store), prompts)` returns the rows `summarize` returns for that
scope, in the same order, with the same figures (up to floating-point summation order) and intervals
(same seed, same prompt numbering: by hash, over the prompts the pandas code resamples). The
length-controlled fields are left as `summarize(..., length_controlled=False)` leaves them: they need
every row's lengths and are computed elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from evalkit.core.vocabulary import count_reasons
from evalkit.judges.aggregation import AGGREGATIONS
from evalkit.results.aggregated import comparison_figures, grade_figures, in_summary_order, kinds_by_output, valid_units
from evalkit.results.summary import Summary
from evalkit.stats.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES
from evalkit.stats.summary import LIKERT_COLUMNS, LIKERT_KEYS, PAIRWISE_COLUMNS, PAIRWISE_KEYS, intervals_of_cluster_sums
from evalkit.stats.winrate import discrete_preferences
from evalkit.store import aggregates
from evalkit.store.catalog_reads import model_rows
from evalkit.store.store import Store
from evalkit.store.tally_cells import answer_catalog

PROMPT = aggregates.PROMPT
PAIR_KEYS = aggregates.PAIR_GROUP_KEYS
GRADE_KEYS = aggregates.GROUP_KEYS
# What summarize_pairwise(..., length_controlled=False) puts in the length-controlled fields.
NO_LENGTH_CONTROL: Mapping[str, float | str | None] = {
    "length_controlled_winrate": math.nan,
    "lc_standard_error": math.nan,
    "lc_variant": "",
    "lc_withheld": None,
}
JUDGED_COLUMNS = [*PAIR_KEYS, PROMPT, "judge"]  # evalkit.results.combined.judge_preferences' columns
# The comparing verdict types, in the order `summarize` lists their rows.
COMPARING: tuple[str, ...] = tuple(aggregation.output for aggregation in AGGREGATIONS.values() if aggregation.compares)


@dataclass(frozen=True)
class PromptTallies:
    """A store's judgments as per-prompt tallies (evalkit.store.aggregates): each judge kind's in the
    table of its verdict type (`kinds`, as the pandas reader assigns them), the invalid ones by reason,
    the out-of-range preferences, and the models' names."""

    verdict: pd.DataFrame  # aggregates.verdict_tallies
    preference: pd.DataFrame  # aggregates.preference_tallies
    grade: pd.DataFrame  # aggregates.grade_tallies
    verdict_reasons: pd.DataFrame  # aggregates.verdict_reasons
    preference_reasons: pd.DataFrame  # aggregates.preference_reasons
    grade_reasons: pd.DataFrame  # aggregates.grade_reasons
    out_of_range: pd.DataFrame  # aggregates.out_of_range_preferences
    model_names: pd.Series  # model id -> name
    kinds: Mapping[str, tuple[str, ...]]  # verdict type -> judge kinds

    @classmethod
    def read(cls, store: Store, model_ids: Sequence[int] | None = None) -> PromptTallies:
        """The tallies of every judgment (with `model_ids`, of those models' answers only)."""
        kinds = {output: tuple(names) for output, names in kinds_by_output(store).items()}
        verdict, preference, score = list(kinds["verdict"]), list(kinds["preference"]), list(kinds["score"])
        # Every answer, read once for the three judge types; a few models' refresh reads only theirs.
        catalog = answer_catalog(store) if model_ids is None else None
        return cls(
            aggregates.verdict_tallies(store, verdict, model_ids, catalog),
            aggregates.preference_tallies(store, preference, model_ids, catalog),
            aggregates.grade_tallies(store, score, model_ids, catalog),
            aggregates.verdict_reasons(store, verdict, model_ids),
            aggregates.preference_reasons(store, preference, model_ids),
            aggregates.grade_reasons(store, score, model_ids),
            aggregates.out_of_range_preferences(store, preference, model_ids),
            model_rows(store).set_index("id")["name"],
            kinds,
        )

    def of(self, output: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(tallies, invalid reasons) of a comparing verdict type: the fields named after it."""
        tallies: pd.DataFrame = getattr(self, output)
        reasons: pd.DataFrame = getattr(self, f"{output}_reasons")
        return tallies, reasons

    def replaced(self, newer: PromptTallies, model_ids: Collection[int]) -> PromptTallies:
        """These tallies with the rows of `model_ids` replaced by `newer`'s (read with those model ids):
        the incremental refresh, where only the models judged since are read again. A judge kind
        whose verdict type changed meanwhile (an undeclared kind that judged its first pair) would
        move tables: that raises ValueError, and the caller reads everything again."""
        if dict(newer.kinds) != dict(self.kinds):
            raise ValueError("judge kinds changed verdict type since these tallies were read: read them all again")
        dropped = {int(model) for model in model_ids}
        frames = {
            field.name: _stacked([frame[~frame["model_id"].isin(dropped)], getattr(newer, field.name)])
            for field in fields(self)
            if isinstance(frame := getattr(self, field.name), pd.DataFrame)
        }
        return PromptTallies(**frames, model_names=newer.model_names, kinds=newer.kinds)


def summarize_tallies(
    tallies: PromptTallies,
    prompts: frozenset[str] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> Summary:
    """What `summarize(tables, Scope(prompt_hashes=prompts))` returns (all prompts when None), from tallies."""
    parts = []
    for output in COMPARING:
        frame, reasons = tallies.of(output)
        scoped = _scoped(frame, prompts)
        if not scoped.empty:
            rounded = _scoped(tallies.out_of_range, prompts)  # a preference judge's: no other group matches
            rows = _comparisons(scoped, _scoped(reasons, prompts), rounded, tallies.model_names, output, n_resamples, level, seed)
            parts.append(in_summary_order(rows, PAIRWISE_KEYS))
    pairwise = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["output"])
    grades = _scoped(tallies.grade, prompts)
    single = (
        in_summary_order(
            _grades(grades, _scoped(tallies.grade_reasons, prompts), tallies.model_names, n_resamples, level, seed), LIKERT_KEYS
        )
        if not grades.empty
        else pd.DataFrame(columns=list(LIKERT_COLUMNS))
    )
    return Summary(pairwise, single)


def judge_preferences_of(tallies: PromptTallies, prompts: frozenset[str] | None = None) -> pd.DataFrame:
    """What evalkit.results.combined.judge_preferences gives for the comparing judges' rows of the scope:
    per (judge, generation sets, prompt) the judge's mean preference on [0, 1] over its valid
    judgments (`judge`), prompts without one left out. Key columns stay categorical (millions of rows)."""
    parts = []
    for output in COMPARING:
        scoped = _scoped(tallies.of(output)[0], prompts)
        if scoped.empty:
            continue
        sums, counts = valid_units(scoped)
        judged = counts.to_numpy() > 0
        part = scoped.loc[judged, [*PAIR_KEYS, PROMPT]]
        parts.append(part.assign(judge=(sums.to_numpy()[judged] / counts.to_numpy()[judged])))
    return _stacked(parts) if parts else pd.DataFrame(columns=JUDGED_COLUMNS)


def _scoped(frame: pd.DataFrame, prompts: frozenset[str] | None) -> pd.DataFrame:
    if prompts is None or frame.empty:
        return frame
    return frame[frame[PROMPT].isin(list(prompts))]


def _stacked(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames one after the other, categorical columns kept categorical (with the union of their
    categories, sorted) where pd.concat would turn them into strings."""
    present = [frame for frame in frames if not frame.empty]
    if not present:
        return frames[0].iloc[0:0]
    if len(present) == 1:
        return present[0].reset_index(drop=True)
    columns = {}
    for name in present[0].columns:
        series = [frame[name] for frame in present]
        if any(isinstance(part.dtype, pd.CategoricalDtype) for part in series):
            categorical = [part if isinstance(part.dtype, pd.CategoricalDtype) else part.astype("category") for part in series]
            columns[name] = pd.Series(union_categoricals(categorical, sort_categories=True))
        else:
            columns[name] = pd.concat(series, ignore_index=True)
    return pd.DataFrame(columns)


def _groups(frame: pd.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """(group code of each row, 0..g-1; the groups' key values, one row per group, strings as str)."""
    codes = frame.groupby(list(keys), observed=True, sort=False, dropna=False).ngroup().to_numpy()
    _, first = np.unique(codes, return_index=True)
    groups = {
        key: np.asarray(frame[key].to_numpy()[first], dtype=object if frame[key].dtype != np.int64 else np.int64) for key in keys
    }
    return codes, pd.DataFrame(groups)


def _sums(frame: pd.DataFrame, codes: np.ndarray, n_groups: int, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Each group's sum of these columns (a NULL sum, of no value, counts as 0)."""
    return {
        name: np.bincount(
            codes, weights=np.nan_to_num(frame[name].to_numpy(dtype=np.float64, na_value=np.nan)), minlength=n_groups
        )
        for name in columns
    }


def _prompt_codes(prompts: pd.Series) -> tuple[np.ndarray, int]:
    """Each row's prompt as a cluster code: the prompts present numbered in the order of their hashes,
    as bootstrap.cluster_codes numbers the rows the pandas summary resamples."""
    codes, uniques = pd.factorize(prompts)
    hashes = np.asarray(uniques, dtype=object)
    rank = np.empty(len(hashes), dtype=np.int64)
    rank[np.argsort(hashes, kind="stable")] = np.arange(len(hashes))
    return rank[codes], len(hashes)


def _intervals(
    codes: np.ndarray,
    n_groups: int,
    prompts: pd.Series,
    sums: np.ndarray,
    counts: np.ndarray,
    n_resamples: int,
    level: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap intervals from each row's (group, prompt, sum and count of valid values)."""
    clusters, n_clusters = _prompt_codes(prompts)
    flat, size = clusters * n_groups + codes, n_clusters * n_groups
    by_cell = [np.bincount(flat, weights=values, minlength=size).reshape(n_clusters, n_groups) for values in (sums, counts)]
    return intervals_of_cluster_sums(by_cell[0], by_cell[1], n_resamples, level, seed)


def _reasons_by_group(reasons: pd.DataFrame, groups: pd.DataFrame, keys: Sequence[str]) -> list[dict[str, int]]:
    """Each group's invalid rows by reason, as stats.summary.invalid_reasons counts them."""
    position = {key: index for index, key in enumerate(groups[list(keys)].itertuples(index=False, name=None))}
    found: list[list[object]] = [[] for _ in range(len(groups))]
    for *key, reason, n in reasons[[*keys, "reason", "n"]].itertuples(index=False, name=None):
        index = position.get(tuple(key))
        if index is not None:
            found[index].extend([reason] * int(n))
    return [count_reasons(listed) for listed in found]


def _rounded(out_of_range: pd.DataFrame, groups: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per group: (out-of-range preferences AlpacaEval's discrete view keeps after rounding, the sum of
    their discrete units), from the rows aggregates.out_of_range_preferences lists."""
    kept, total = np.zeros(len(groups)), np.zeros(len(groups))
    if out_of_range.empty:
        return kept, total
    units = discrete_preferences(out_of_range["preference"].to_numpy(dtype=np.float64)) - 1
    position = {key: index for index, key in enumerate(groups[PAIR_KEYS].itertuples(index=False, name=None))}
    for key, unit in zip(out_of_range[PAIR_KEYS].itertuples(index=False, name=None), units):
        index = position.get(key)
        if index is not None and not np.isnan(unit):
            kept[index] += 1
            total[index] += unit
    return kept, total


def _comparisons(
    scoped: pd.DataFrame,
    reasons: pd.DataFrame,
    out_of_range: pd.DataFrame,
    names: pd.Series,
    output: str,
    n_resamples: int,
    level: float,
    seed: int,
) -> pd.DataFrame:
    codes, groups = _groups(scoped, PAIR_KEYS)
    tallies = groups.assign(**_sums(scoped, codes, len(groups), [c for c in scoped.columns if c not in [*PAIR_KEYS, PROMPT]]))
    tallies["n_rounded"], tallies["sum_rounded"] = _rounded(out_of_range, groups)
    rows = comparison_figures(tallies, names, output)
    sums, counts = valid_units(scoped)
    rows["ci_low"], rows["ci_high"] = _intervals(
        codes, len(groups), scoped[PROMPT], 100 * sums.to_numpy(), counts.to_numpy(), n_resamples, level, seed
    )
    rows["invalid_reasons"] = _reasons_by_group(reasons, groups, PAIR_KEYS)
    for name, value in NO_LENGTH_CONTROL.items():
        rows[name] = [value] * len(rows)
    return rows[[*PAIRWISE_COLUMNS, "output"]]


def _grades(
    scoped: pd.DataFrame, reasons: pd.DataFrame, names: pd.Series, n_resamples: int, level: float, seed: int
) -> pd.DataFrame:
    codes, groups = _groups(scoped, GRADE_KEYS)
    means = scoped["prompt_mean"].to_numpy(dtype=np.float64, na_value=np.nan)
    graded = ~np.isnan(means)  # a prompt with no valid grade has no mean and takes no part
    counted = [c for c in scoped.columns if c.startswith("n_")]
    tallies = groups.assign(
        n=np.bincount(codes, weights=graded.astype(np.float64), minlength=len(groups)),
        sum_prompt_means=np.bincount(codes[graded], weights=means[graded], minlength=len(groups)),
        **_sums(scoped, codes, len(groups), counted),
    )
    rows = grade_figures(tallies, names)
    rows["ci_low"], rows["ci_high"] = _intervals(
        codes[graded], len(groups), scoped[PROMPT][graded], means[graded], np.ones(int(graded.sum())), n_resamples, level, seed
    )
    rows["invalid_reasons"] = _reasons_by_group(reasons, groups, GRADE_KEYS)
    return rows[list(LIKERT_COLUMNS)]
