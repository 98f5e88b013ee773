"""The combined (prediction-powered) win rate of a checkpoint that has human labels: the one figure
`run`, `pick`, `stats summary` and the leaderboard show beside the judge-only win rate.

For each (comparing judge, generation set, baseline generation set) whose two generation sets also
carry human pairwise labels (any annotation batch of the model's answers against the baseline's):

- the humans' preference on a prompt is the mean, over the prompt's valid labels, of the model's share
  (A = 1, tie = 1/2, B = 0 once the label is put on the pair's own order, the model's answer as A);
  labels of several batches on the same two answers are pooled, so a prompt is one item;
- the judge's preference on a prompt is its mean preference on [0, 1] (`stats.winrate.preference_unit`,
  the unit the win rate averages), over every prompt of the scope it validly judged;
- humans count only on prompts the judge validly judged, and the estimate is PPI++
  (`stats.prediction_powered`): the humans' tie-discounted win rate as if they had labelled every
  judged prompt. Figures are in percent, like `win_rate`.

Rows with fewer than two labelled prompts get no figure: surfaces then show nothing extra.

A batch made by `annotate create --select informative` drew its prompts with unequal probabilities
(stats.active_inference). Its labels are not a sample of the prompts, so pooling them into PPI++ would
bias the estimate towards the prompts the judge was unsure of. For a pair of generation sets with such
a batch, the figure is the active-inference estimate on that batch alone (the drawn batch with the most
labelled items, when there are several): each labelled item weighted by 1 / (N p) per draw, over the N
prompts the draw probabilities were spread across, the judge's preference 1/2 on any of them it has
not validly judged (a fixed fill keeps the estimate unbiased). Items drawn but not labelled yet are
left out with their draws: batches store their items in random order, so the labelled ones are a
sample of the draws. The humans-only figure is the same estimator with lambda = 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from evalkit.core.records import JUDGE_COLUMNS
from evalkit.core.vocabulary import SHARE_OF_A, own_order
from evalkit.results.summary import Scope, Summary, select
from evalkit.results.tables import Tables, read_tables
from evalkit.stats.active_inference import active_interval, active_mean
from evalkit.stats.bootstrap import DEFAULT_LEVEL
from evalkit.stats.prediction_powered import PredictionPowered, prediction_powered_mean
from evalkit.stats.summary import preference_column
from evalkit.stats.winrate import preference_unit
from evalkit.store import annotations as annotation_store
from evalkit.store.store import Store

GENERATION_SETS: Final = ["model_id", "decoding", "baseline_id", "baseline_decoding"]
KEYS: Final = [*JUDGE_COLUMNS, *GENERATION_SETS]
# What every surface may show, in percent except the counts and lambda.
COMBINED_COLUMNS: Final = (
    "combined",
    "combined_ci_low",
    "combined_ci_high",
    "n_humans",
    "human_only",
    "human_only_ci_low",
    "human_only_ci_high",
    "ppi_lambda",
    "effective_n_humans",
)
# What the pick's tie rule and power guidance need besides: the estimate's variance split into the
# judge term, var(lambda f)/N, and the humans' (rectifier) term, var(y - lambda f)/n (percent squared).
VARIANCE_COLUMNS: Final = ("combined_standard_error", "combined_judge_variance", "combined_human_variance", "n_judge")
MIN_HUMAN_ITEMS: Final = 2


def human_preferences(labels: pd.DataFrame) -> pd.DataFrame:
    """Per (model, decoding, baseline, baseline decoding, prompt): the humans' mean share for the model,
    from `store.annotations.labels` rows (labels in the shown order; invalid ones left out)."""
    columns = [*GENERATION_SETS, "prompt_hash", "human"]
    if labels.empty:
        return pd.DataFrame(columns=columns)
    # "A" on an item shown BA is the baseline's answer: own_order puts every label on the model-as-A order.
    shares = [SHARE_OF_A.get(own_order(order, label) or "", math.nan) for order, label in zip(labels["order"], labels["label"])]
    frame = pd.DataFrame(
        {
            "model_id": labels["model_id"].astype(np.int64),
            "decoding": labels["decoding_a"],
            "baseline_id": labels["baseline_id"].astype(np.int64),
            "baseline_decoding": labels["decoding_b"],
            "prompt_hash": labels["prompt_hash"],
            "human": np.asarray(shares, dtype=float),
        }
    ).dropna(subset=["human"])
    return frame.groupby([*GENERATION_SETS, "prompt_hash"], as_index=False, sort=False)["human"].mean()[columns]


def judge_preferences(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Per (judge, generation sets, prompt): the judge's mean preference on [0, 1], valid judgments only."""
    columns = [*KEYS, "prompt_hash", "judge"]
    if comparisons.empty:
        return pd.DataFrame(columns=columns)
    units = comparisons[[*KEYS, "prompt_hash"]].assign(judge=preference_unit(preference_column(comparisons)))
    units = units.dropna(subset=["judge"])
    return units.groupby([*KEYS, "prompt_hash"], as_index=False, sort=False, dropna=False)["judge"].mean()[columns]


@dataclass(frozen=True)
class DrawDesign:
    """How an informative batch drew its prompts: per prompt its per-draw probability and draw count, and
    the N prompts (`population`) the probabilities sum to 1 over."""

    probability: Mapping[str, float]
    draws: Mapping[str, int]
    population: tuple[str, ...]


def estimate(human: np.ndarray, judge_on_human: np.ndarray, judge_all: np.ndarray, level: float) -> PredictionPowered:
    """The one call of the plain-sample estimator (PPI++), for every surface at once."""
    return prediction_powered_mean(human, judge_on_human, judge_all, level)


def _figures(human: np.ndarray, judge_on_human: np.ndarray, judge_all: np.ndarray, level: float) -> dict[str, float | int]:
    result = estimate(human, judge_on_human, judge_all, level)
    lam = result.lam
    # The variance terms as prediction_powered.ppi_interval adds them (ddof=0), in percent squared.
    judge_variance = float(np.var(lam * judge_all)) / judge_all.size * 100**2
    human_variance = float(np.var(human - lam * judge_on_human)) / human.size * 100**2
    return {
        "combined": 100 * result.combined.estimate,
        "combined_ci_low": 100 * result.combined.low,
        "combined_ci_high": 100 * result.combined.high,
        "n_humans": int(human.size),
        "human_only": 100 * result.human_only.estimate,
        "human_only_ci_low": 100 * result.human_only.low,
        "human_only_ci_high": 100 * result.human_only.high,
        "ppi_lambda": lam,
        "effective_n_humans": result.effective_n_humans,
        "combined_standard_error": math.sqrt(judge_variance + human_variance),
        "combined_judge_variance": judge_variance,
        "combined_human_variance": human_variance,
        "n_judge": int(judge_all.size),
    }


def _drawn_figures(
    labelled: pd.DataFrame, judge_by_prompt: pd.Series, design: DrawDesign, level: float
) -> dict[str, float | int] | None:
    """The active-inference figures of one drawn batch: `labelled` its (prompt_hash, human) rows,
    `judge_by_prompt` the judge's preference per prompt it validly judged."""
    labelled = labelled[labelled["prompt_hash"].isin(design.probability)]
    if len(labelled) < MIN_HUMAN_ITEMS:
        return None
    judge_all = judge_by_prompt.reindex(list(design.population)).fillna(0.5).to_numpy(dtype=float)
    hashes = labelled["prompt_hash"]
    y = labelled["human"].to_numpy(dtype=float)
    f = judge_by_prompt.reindex(hashes).fillna(0.5).to_numpy(dtype=float)
    p = hashes.map(design.probability).to_numpy(dtype=float)
    draws = hashes.map(design.draws).to_numpy(dtype=np.int64)
    result = active_mean(y, f, p, draws, judge_all, level)
    human_only = active_interval(y, f, p, draws, judge_all, 0.0, level)
    lam, big_n, k = result.lam, judge_all.size, int(draws.sum())
    terms = np.repeat((y - lam * f) / (big_n * p), draws)
    judge_variance = float(np.var(lam * judge_all)) / big_n * 100**2
    human_variance = float(np.var(terms)) / k * 100**2
    width = result.combined.width
    return {
        "combined": 100 * result.combined.estimate,
        "combined_ci_low": 100 * result.combined.low,
        "combined_ci_high": 100 * result.combined.high,
        "n_humans": int(y.size),
        "human_only": 100 * human_only.estimate,
        "human_only_ci_low": 100 * human_only.low,
        "human_only_ci_high": 100 * human_only.high,
        "ppi_lambda": lam,
        "effective_n_humans": y.size * (human_only.width / width) ** 2 if width > 0 else math.inf,
        "combined_standard_error": math.sqrt(judge_variance + human_variance),
        "combined_judge_variance": judge_variance,
        "combined_human_variance": human_variance,
        "n_judge": int(big_n),
    }


def _drawn_batch(labels: pd.DataFrame, designs: Mapping[int, DrawDesign]) -> int | None:
    """The drawn batch (most labelled items) among a generation-set pair's labels, or None."""
    drawn = labels[labels["batch_id"].isin(designs)] if "batch_id" in labels else labels.iloc[0:0]
    if drawn.empty:
        return None
    return int(drawn.groupby("batch_id")["prompt_hash"].nunique().idxmax())


def combined_win_rates(
    comparisons: pd.DataFrame | None,
    labels: pd.DataFrame,
    level: float = DEFAULT_LEVEL,
    designs: Mapping[int, DrawDesign] | None = None,
    *,
    judged: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (judge, generation set, baseline generation set) with human labels on at least two
    prompts the judge validly judged: KEYS, COMBINED_COLUMNS and VARIANCE_COLUMNS. `comparisons`: the
    comparing judges' rows of the scope (`Tables.comparisons`); `labels`: `store.annotations.labels`;
    `designs`: the draw designs of informative batches by batch id (their pairs get the weighted figure).
    `judged`: what `judge_preferences(comparisons)` gives, when computed without rows (from the
    database's per-prompt tallies: evalkit.results.tally_summary.judge_preferences_of); `comparisons`
    is then not read."""
    columns = [*KEYS, *COMBINED_COLUMNS, *VARIANCE_COLUMNS]
    designs = designs or {}
    drawn_rows, labels = _split_drawn(labels, designs)
    humans = human_preferences(labels)
    rows_given = judged if judged is not None else comparisons
    if (humans.empty and not drawn_rows) or rows_given is None or rows_given.empty:
        return pd.DataFrame(columns=columns)
    judged = _labelled_pairs(judged if judged is not None else judge_preferences(rows_given), humans, drawn_rows)
    # the label frame's ids may be read as another integer type than the tables'
    judged = judged.astype({"model_id": np.int64, "baseline_id": np.int64})
    with_humans = judged.merge(humans, on=[*GENERATION_SETS, "prompt_hash"], how="left")
    rows = []
    for key, part in with_humans.groupby(KEYS, sort=False, dropna=False):
        pair = tuple(dict(zip(KEYS, key))[column] for column in GENERATION_SETS)
        if pair in drawn_rows:
            batch, labelled_drawn = drawn_rows[pair]
            judge_by_prompt = part.groupby("prompt_hash")["judge"].mean()
            found = _drawn_figures(labelled_drawn, judge_by_prompt, designs[batch], level)
            if found is not None:
                rows.append({**dict(zip(KEYS, key)), **found})
            continue
        labelled = part.dropna(subset=["human"])
        if len(labelled) < MIN_HUMAN_ITEMS:
            continue
        figures = _figures(
            labelled["human"].to_numpy(dtype=float),
            labelled["judge"].to_numpy(dtype=float),
            part["judge"].to_numpy(dtype=float),
            level,
        )
        rows.append({**dict(zip(KEYS, key)), **figures})
    return pd.DataFrame(rows, columns=columns)


def _labelled_pairs(judged: pd.DataFrame, humans: pd.DataFrame, drawn_rows: Mapping[tuple[object, ...], object]) -> pd.DataFrame:
    """The judge's preferences on generation-set pairs that have human labels (no other pair gets a
    figure), with plain columns: the judged frame may cover every pair of a large store, with
    categorical keys."""
    pairs: set[tuple[Any, ...]] = {tuple(pair) for pair in humans[GENERATION_SETS].itertuples(index=False, name=None)}
    pairs |= set(drawn_rows)
    models = {int(pair[0]) for pair in pairs}  # model ids
    labelled = judged[judged["model_id"].astype(np.int64).isin(models)]
    plain = pd.DataFrame(
        {
            name: labelled[name].astype(labelled[name].cat.categories.dtype)
            if isinstance(labelled[name].dtype, pd.CategoricalDtype)
            else labelled[name]
            for name in labelled.columns
        }
    )
    keys = plain[GENERATION_SETS].astype({"model_id": np.int64, "baseline_id": np.int64}).itertuples(index=False, name=None)
    return plain[[key in pairs for key in keys]].reset_index(drop=True)


def _split_drawn(
    labels: pd.DataFrame, designs: Mapping[int, DrawDesign]
) -> tuple[dict[tuple[object, ...], tuple[int, pd.DataFrame]], pd.DataFrame]:
    """Generation-set pairs with an informative batch -> (that batch, its per-prompt human means); and the
    labels of every other pair, for PPI++."""
    if labels.empty or not designs:
        return {}, labels
    drawn: dict[tuple[object, ...], tuple[int, pd.DataFrame]] = {}
    plain = []
    frame = labels.assign(model_id=labels["model_id"].astype(np.int64), baseline_id=labels["baseline_id"].astype(np.int64))
    for pair, part in frame.groupby(["model_id", "decoding_a", "baseline_id", "decoding_b"], sort=False):
        batch = _drawn_batch(part, designs)
        if batch is None:
            plain.append(part)
            continue
        means = human_preferences(part[part["batch_id"] == batch])[["prompt_hash", "human"]]
        drawn[tuple(pair)] = (batch, means)
    return drawn, (pd.concat(plain, ignore_index=True) if plain else labels.iloc[0:0])


def draw_designs(store: Store, batches: list[int]) -> dict[int, DrawDesign]:
    """The draw designs of those batches that were drawn with unequal probabilities."""
    designs = {}
    for batch in batches:
        items = [item for item in annotation_store.batch_draws(store, batch) if item.probability is not None]
        if items:
            population = annotation_store.batch_population(store, batch).hashes
            designs[batch] = DrawDesign(
                {item.prompt_hash: float(item.probability or 0.0) for item in items},
                {item.prompt_hash: item.draws for item in items},
                tuple(population),
            )
    return designs


def store_combined(
    store: Store, tables: Tables | None = None, scope: Scope | None = None, level: float = DEFAULT_LEVEL
) -> pd.DataFrame:
    """`combined_win_rates` over the store's human labels and the comparing judges' rows of `tables`
    (read from the store only when there are human labels and no tables are given) within `scope`."""
    labels = annotation_store.labels(store)
    if labels.empty:
        return pd.DataFrame(columns=[*KEYS, *COMBINED_COLUMNS, *VARIANCE_COLUMNS])
    tables = tables if tables is not None else read_tables(store, instructions=False)
    chosen = select(tables, scope) if scope is not None else tables
    designs = draw_designs(store, sorted({int(b) for b in labels["batch_id"]})) if "batch_id" in labels else {}
    return combined_win_rates(chosen.comparisons, labels, level, designs)


def with_combined(pairwise: pd.DataFrame, combined: pd.DataFrame) -> pd.DataFrame:
    """The summary's pairwise rows with COMBINED_COLUMNS beside them (None where a row has no human
    labels); unchanged when no row has any, so surfaces show nothing extra."""
    if combined.empty or pairwise.empty:
        return pairwise
    public = combined[[*KEYS, *COMBINED_COLUMNS]].astype({"model_id": np.int64, "baseline_id": np.int64})
    return pairwise.astype({"model_id": np.int64, "baseline_id": np.int64}).merge(public, on=KEYS, how="left")


def summary_with_combined(summary: Summary, combined: pd.DataFrame) -> Summary:
    """`summary` with the combined figures beside its pairwise rows (`with_combined`)."""
    return Summary(with_combined(summary.pairwise, combined), summary.single)
