"""The combined (prediction-powered) win rate of a checkpoint with human labels, from a store built here:
equal to `prediction_powered_mean` and to the PPI authors' `ppi_py` on vectors built independently
from the stored labels and judgments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.leaderboard_data import populate
from evalkit.results.combined import COMBINED_COLUMNS, store_combined, summary_with_combined
from evalkit.results.summary import summarize
from evalkit.results.tables import read_tables
from evalkit.stats.prediction_powered import prediction_powered_mean
from evalkit.store import Store
from evalkit.store import annotations as ann

# shown label -> the model's share, by the item's shown order (written out here, not read from vocabulary)
MODEL_SHARE = {("AB", "A"): 1.0, ("AB", "B"): 0.0, ("BA", "A"): 0.0, ("BA", "B"): 1.0, ("AB", "tie"): 0.5, ("BA", "tie"): 0.5}


def labelled_store(store: Store, n_items: int = 12) -> tuple[str, str]:
    """Two checkpoints and baselines judged on 30 prompts; the last checkpoint vs the first baseline has a
    batch of `n_items` items with two annotators who sometimes disagree. Returns (model, baseline)."""
    data = populate(store, runs=1, epochs=2, prompts=30, with_decisions=False)
    model, baseline = data.checkpoints[-1], data.baselines[0]
    batch, _ = ann.create_batch(store, "team", store.model_id(model), store.model_id(baseline), "bench", 2, limit=n_items)
    rng = np.random.default_rng(3)
    for annotator in ("ann", "bob"):
        while (item := ann.next_item(store, batch, annotator)) is not None:
            label = ["A", "B", "tie"][int(rng.integers(3))]
            assert ann.add_label(store, annotator, item.item_id, label, source="test")
    return model, baseline


def _by_hand(store: Store, judge_kind: str, model: str, baseline: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The humans' per-prompt means, the judge's per-prompt preference on those prompts and on all of them."""
    labels = ann.labels(store)
    labels = labels.assign(share=[MODEL_SHARE[(o, label)] for o, label in zip(labels["order"], labels["label"])])
    human = labels.groupby("prompt_hash")["share"].mean()
    table = read_tables(store).comparisons
    rows = table[(table["judge_kind"] == judge_kind) & (table["model"] == model) & (table["baseline"] == baseline)]
    judge = (rows.set_index("prompt_hash")["preference"] - 1).dropna()
    human = human[human.index.isin(judge.index)]
    return human.to_numpy(), judge.loc[human.index].to_numpy(), judge.to_numpy()


@pytest.mark.parametrize("judge_kind", ["pairwise", "alpaca_eval"])
def test_combined_win_rate_equals_ppi_on_the_same_vectors(store: Store, judge_kind: str) -> None:
    ppi_mean_ci = pytest.importorskip("ppi_py").ppi_mean_ci  # in the dev extra; absent from the base install

    model, baseline = labelled_store(store)
    combined = store_combined(store)
    (row,) = combined[
        (combined["judge_kind"] == judge_kind)
        & (combined["model_id"] == store.model_id(model))
        & (combined["baseline_id"] == store.model_id(baseline))
    ].to_dict(orient="records")
    human, judge_on_human, judge_all = _by_hand(store, judge_kind, model, baseline)
    expected = prediction_powered_mean(human, judge_on_human, judge_all, 0.95)
    assert row["n_humans"] == len(human) == 12 and row["n_judge"] == len(judge_all) == 30
    assert row["combined"] == pytest.approx(100 * expected.combined.estimate, abs=1e-9)
    assert (row["combined_ci_low"], row["combined_ci_high"]) == pytest.approx(
        (100 * expected.combined.low, 100 * expected.combined.high), abs=1e-9
    )
    assert row["human_only"] == pytest.approx(100 * human.mean(), abs=1e-9)
    assert row["ppi_lambda"] == pytest.approx(expected.lam) and row["effective_n_humans"] == pytest.approx(
        expected.effective_n_humans
    )
    low, high = ppi_mean_ci(human, judge_on_human, judge_all, alpha=0.05, lam=expected.lam)
    assert (row["combined_ci_low"], row["combined_ci_high"]) == pytest.approx(
        (100 * float(np.squeeze(low)), 100 * float(np.squeeze(high))), abs=1e-6
    )
    # the standard error behind the pick's tie rule is the interval's half-width over z
    assert row["combined_standard_error"] * 1.959963984540054 == pytest.approx(
        (row["combined_ci_high"] - row["combined_ci_low"]) / 2
    )
    variance = row["combined_judge_variance"] + row["combined_human_variance"]
    assert np.sqrt(variance) == pytest.approx(row["combined_standard_error"])


def test_rows_without_human_labels_get_no_figure(store: Store) -> None:
    model, baseline = labelled_store(store)
    tables = read_tables(store, instructions=False)
    summary = summary_with_combined(summarize(tables, n_resamples=10), store_combined(store, tables))
    pairwise = summary.pairwise
    labelled = (pairwise["model"] == model) & (pairwise["baseline"] == baseline)
    assert pairwise.loc[labelled, "combined"].notna().all() and labelled.sum() == 2  # both comparing judges
    assert pairwise.loc[~labelled, list(COMBINED_COLUMNS)].isna().all().all()


def test_a_store_without_human_labels_adds_nothing(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/plain.db")
    populate(store, runs=1, epochs=1, prompts=10, with_decisions=False)
    tables = read_tables(store, instructions=False)
    summary = summarize(tables, n_resamples=10)
    assert store_combined(store, tables).empty
    assert list(summary_with_combined(summary, store_combined(store, tables)).pairwise.columns) == list(summary.pairwise.columns)


def informative_store(store: Store) -> tuple[str, str, list[ann.DrawnPrompt], tuple[str, ...], int]:
    """A batch of 16 draws with unequal probabilities (increasing over the prompts) on the last checkpoint
    against the first baseline, every item but the last in batch order labelled. Returns (model,
    baseline, the drawn prompts, the population, items)."""
    from evalkit.stats.active_inference import draw_items

    data = populate(store, runs=1, epochs=2, prompts=30, with_decisions=False)
    model, baseline = data.checkpoints[-1], data.baselines[0]
    population = ann.shared_prompts(store, store.model_id(model), store.model_id(baseline), "bench", None, None).hashes
    weights = np.linspace(1.0, 3.0, len(population))
    p = weights / weights.sum()
    drawn = draw_items(p, 16, seed=5)
    chosen = [ann.DrawnPrompt(population[i], int(k), float(p[i])) for i, k in zip(drawn.items, drawn.draws)]
    batch, n_items = ann.create_batch(
        store, "informative", store.model_id(model), store.model_id(baseline), "bench", 1, drawn=chosen
    )
    for _ in range(n_items - 1):  # the last item in batch order stays unlabelled
        item = ann.next_item(store, batch, "ann")
        assert item is not None
        assert ann.add_label(store, "ann", item.item_id, ["A", "B", "tie"][item.item_id % 3], source="test")
    return model, baseline, chosen, population, n_items


def test_an_informative_batch_gets_the_weighted_estimate_on_its_own_labels(store: Store) -> None:
    """A batch drawn with unequal probabilities (`annotate create --select informative`) is estimated by
    active inference over the prompts its probabilities cover, its labels weighted by 1 / (N p) per draw;
    an item drawn but not labelled yet is left out with its draws; a plain batch on another pair keeps PPI++."""
    from evalkit.stats.active_inference import active_interval, active_mean

    model, baseline, chosen, population, n_items = informative_store(store)
    labels = ann.labels(store)
    labels = labels.assign(share=[MODEL_SHARE[(o, label)] for o, label in zip(labels["order"], labels["label"])])
    human = labels.groupby("prompt_hash")["share"].mean()
    assert len(human) == n_items - 1
    table = read_tables(store).comparisons
    rows = table[(table["judge_kind"] == "pairwise") & (table["model"] == model) & (table["baseline"] == baseline)]
    judge = (rows.set_index("prompt_hash")["preference"] - 1).dropna().groupby(level=0).mean()
    f_all = judge.reindex(list(population)).fillna(0.5).to_numpy()
    by_hash = {c.prompt_hash: c for c in chosen}
    hashes = list(human.index)
    y, f = human.to_numpy(), judge.reindex(hashes).fillna(0.5).to_numpy()
    probability = np.array([by_hash[h].probability for h in hashes])
    draws = np.array([by_hash[h].draws for h in hashes])
    expected = active_mean(y, f, probability, draws, f_all)
    human_only = active_interval(y, f, probability, draws, f_all, 0.0, 0.95)
    combined = store_combined(store)
    (row,) = combined[
        (combined["judge_kind"] == "pairwise")
        & (combined["model_id"] == store.model_id(model))
        & (combined["baseline_id"] == store.model_id(baseline))
    ].to_dict(orient="records")
    assert row["n_humans"] == len(y) and row["n_judge"] == len(population)
    assert row["combined"] == pytest.approx(100 * expected.combined.estimate, abs=1e-9)
    assert (row["combined_ci_low"], row["combined_ci_high"]) == pytest.approx(
        (100 * expected.combined.low, 100 * expected.combined.high), abs=1e-9
    )
    assert row["human_only"] == pytest.approx(100 * human_only.estimate, abs=1e-9)
    assert row["ppi_lambda"] == pytest.approx(expected.lam)
    # the standard error the pick's tie rule uses is the interval's half-width over z
    assert row["combined_standard_error"] * 1.959963984540054 == pytest.approx(
        (row["combined_ci_high"] - row["combined_ci_low"]) / 2
    )


def test_the_leaderboard_shows_the_informative_batchs_weighted_figure(store: Store) -> None:
    """The snapshot the leaderboard reads carries the same (weighted) figure as `store_combined`."""
    from evalkit.leaderboard.snapshot_build import build_snapshot

    model, baseline, *_ = informative_store(store)
    combined = store_combined(store)
    expected = combined[(combined["judge_kind"] == "pairwise") & (combined["model_id"] == store.model_id(model))]
    snapshot = build_snapshot(store, "token")
    rows = snapshot.pairwise_summary
    shown = rows[
        (rows["judge_kind"] == "pairwise")
        & (rows["model"] == model)
        & (rows["baseline"] == baseline)
        & (rows["scope"] == rows["scope"].iloc[0])
    ]
    assert len(expected) == 1 and len(shown) == 1
    assert shown["combined"].iloc[0] == pytest.approx(expected["combined"].iloc[0], abs=1e-9)
    assert shown["combined_ci_low"].iloc[0] == pytest.approx(expected["combined_ci_low"].iloc[0], abs=1e-9)
