"""The leaderboard's data layer: every number shown is checked against an independent computation
from the raw judgments, the snapshot cache serves stale-while-revalidate and survives restarts, and
the exported figures are real PNG/SVG files."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
import sqlalchemy
from sqlalchemy import select

from bench.leaderboard_data import populate, simulate_annotators
from evalkit.core.ordering import natural_key
from evalkit.core.records import Judgment, Prompt, PromptSet
from evalkit.core.vocabulary import MODEL_VIEW
from evalkit.leaderboard import charts, tables
from evalkit.leaderboard import snapshot as snap
from evalkit.leaderboard import snapshot_build as build
from evalkit.leaderboard.cache import SnapshotCache
from evalkit.leaderboard.compare_rows import compare_rows
from evalkit.leaderboard.export import spec_png, spec_svg
from evalkit.leaderboard.judged_rows import judged_tables, pair_tables
from evalkit.leaderboard.store_access import results_token
from evalkit.leaderboard.worker import Worker
from evalkit.store import Store, annotations
from evalkit.store import schema as t
from evalkit.store.result_reads import generation_ids_of
from tests.leaderboard.row_reference import length_control_table


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('tables') / 'store.db'}")
    data = populate(store, runs=1, epochs=6, prompts=15, with_decisions=False)
    simulate_annotators(store, data.checkpoints[2], data.baselines[0], items=5)
    return store, data, build.with_row_figures(build.build_snapshot(store, results_token(store)))


def _selection(snapshot: snap.Snapshot, baseline_id: int) -> tables.Selection:
    pair = tables.judge_keys(snapshot.pairwise_summary)
    base = tables.baselines(snapshot)
    (decoding,) = set(base.loc[base["baseline_id"] == baseline_id, "baseline_decoding"])  # the bench store has one per model
    return tables.Selection(
        snap.ALL_PROMPTS,
        (baseline_id, decoding),
        next(k for k in pair if k.kind == "pairwise"),
        next(k for k in pair if k.kind == "alpaca_eval"),
        tables.judge_keys(snapshot.likert_summary)[0],
    )


def _raw(store: Store, kind: str) -> pd.DataFrame:
    """Judgments of one kind with the model of generation_a / generation_b, straight from SQL."""
    j, ga, gb = t.judgments, t.generations.alias("ga"), t.generations.alias("gb")
    query = (
        select(j.c.prompt_hash, j.c.order, j.c.verdict, j.c.score, j.c.valid, ga.c.model_id, gb.c.model_id.label("baseline_id"))
        .join(ga, ga.c.id == j.c.generation_a)
        .outerjoin(gb, gb.c.id == j.c.generation_b)
        .where(j.c.judge_kind == kind)
    )
    return store.frame(query)


def test_leaderboard_numbers_match_the_raw_judgments(built) -> None:
    store, data, snapshot = built
    baseline_id = store.model_id(data.baselines[0])
    rows = tables.leaderboard_rows(snapshot, _selection(snapshot, baseline_id)).set_index("model")
    assert set(rows.index) == {*data.checkpoints, *data.baselines}  # every model, judged or not
    assert rows.loc[data.baselines[0], ["ae_win_rate", "win_pct", "likert_mean"]].isna().all()
    for name in data.checkpoints:
        model_id = store.model_id(name)
        # LIMA pairwise: a prompt is a win when both orders pick the model, a loss when both pick the baseline
        pair = _raw(store, "pairwise")
        pair = pair[(pair["model_id"] == model_id) & (pair["baseline_id"] == baseline_id)]
        shown_model = {("AB", "A"), ("BA", "B")}
        per_order = {
            (r.prompt_hash, r.order): (
                "model" if (r.order, r.verdict) in shown_model else "tie" if r.verdict == "tie" else "baseline"
            )
            if r.valid
            else None
            for r in pair.itertuples()
        }
        outcomes = []
        for prompt in pair["prompt_hash"].unique():
            ab, ba = per_order.get((prompt, "AB")), per_order.get((prompt, "BA"))
            outcomes.append(None if ab is None or ba is None else ab if ab == ba else "tie")
        valid = [o for o in outcomes if o is not None]
        assert rows.loc[name, "win_pct"] == pytest.approx(100 * valid.count("model") / len(valid))
        assert rows.loc[name, "loss_pct"] == pytest.approx(100 * valid.count("baseline") / len(valid))
        assert rows.loc[name, "pw_invalid"] == len(outcomes) - len(valid)
        # AlpacaEval: mean of (preference - 1), percent
        alpaca = _raw(store, "alpaca_eval")
        alpaca = alpaca[(alpaca["model_id"] == model_id) & (alpaca["baseline_id"] == baseline_id)]
        assert rows.loc[name, "ae_win_rate"] == pytest.approx(100 * (alpaca["score"].mean() - 1))
        likert = _raw(store, "likert")
        assert rows.loc[name, "likert_mean"] == pytest.approx(likert[likert["model_id"] == model_id]["score"].mean())


def test_preference_shares_are_the_summary_fractions(built) -> None:
    store, data, snapshot = built
    ids = [store.model_id(n) for n in data.checkpoints[:3]]
    base_ids = [store.model_id(n) for n in data.baselines]
    judge = _selection(snapshot, base_ids[0]).pairwise_judge
    shares = tables.preference_shares(snapshot, snap.ALL_PROMPTS, judge, ids, base_ids)
    assert len(shares) == 6 and shares["row"].iloc[0].startswith(data.checkpoints[0] + " vs ")
    assert np.allclose(shares[["win", "tie", "loss"]].sum(axis=1), 1.0)
    rows = tables.leaderboard_rows(snapshot, _selection(snapshot, base_ids[0])).set_index("model")
    first = shares[shares["row"] == f"{data.checkpoints[0]} vs {data.baselines[0]}"].iloc[0]
    assert first["win"] == pytest.approx(rows.loc[data.checkpoints[0], "win_pct"] / 100)


def test_compare_rows_flip_with_the_point_of_view(built) -> None:
    store, data, snapshot = built
    model, baseline = store.model_id(data.checkpoints[2]), store.model_id(data.baselines[0])
    humans = annotations.labels(store)
    humans["outcome"] = [MODEL_VIEW.get((o, lab)) for o, lab in zip(humans["order"], humans["label"])]
    judged = pair_tables(store, [model, baseline])
    everything = judged_tables(store)
    for name in ("pairwise", "alpaca", "single"):  # the database's filter keeps exactly the two models' rows
        full: pd.DataFrame = getattr(everything, name)
        between = full["model_id"].isin([model, baseline])
        if "baseline_id" in full.columns:
            between &= full["baseline_id"].isin([model, baseline])
        assert between.any() and len(full) > between.sum()
        expected = full[between].reset_index(drop=True)
        pd.testing.assert_frame_equal(getattr(judged, name).reset_index(drop=True), expected)
    forward, judges = compare_rows(snapshot, judged, model, baseline, humans, {})
    backward, _ = compare_rows(snapshot, judged, baseline, model, humans, {})
    assert len(forward) == 15 and judges
    merged = forward.merge(backward, on="prompt_hash", suffixes=("", "_back"))
    flip = {"win": "loss", "loss": "win", "tie": "tie", "invalid": "invalid"}
    for judge in judges:
        assert (merged[judge].map(flip) == merged[f"{judge}_back"]).all()
    pairwise = judged.pairwise[(judged.pairwise["model_id"] == model) & (judged.pairwise["baseline_id"] == baseline)]
    decided = pairwise["verdict_ab"].notna() & pairwise["verdict_ba"].notna()
    assert forward["order_flip"].sum() == int((decided & (pairwise["verdict_ab"] != pairwise["verdict_ba"])).sum())
    labelled = forward.dropna(subset=["humans"])
    assert len(labelled) == 5 and labelled["humans"].str.count(",").eq(2).all()  # three annotators each
    # one decoding at a time: its own answers' labels count, another decoding's do not
    decoding = str(humans["decoding_a"].iloc[0])
    same, _ = compare_rows(snapshot, judged, model, baseline, humans, {}, decoding)
    assert same.dropna(subset=["humans"])["humans"].tolist() == labelled["humans"].tolist()
    elsewhere = humans.assign(decoding_a="another-decoding")
    other, _ = compare_rows(snapshot, judged, model, baseline, elsewhere, {}, decoding)
    assert "humans" not in other.columns or other["humans"].isna().all()


def test_length_controlled_columns_are_the_summarys_for_every_comparing_judge(built) -> None:
    """The LC win rate, its standard error, variant and withheld reason, for the verdict judge as for
    alpaca_eval (the leaderboard used to show only alpaca_eval's, with neither SE nor reason)."""
    from dataclasses import replace

    from evalkit.leaderboard import columns
    from evalkit.results.summary import summarize_store

    store, data, snapshot = built
    selection = _selection(snapshot, store.model_id(data.baselines[0]))
    rows = tables.leaderboard_rows(build.with_row_figures(snapshot), selection)
    summary = summarize_store(store, length_controlled=True).pairwise
    for judge, prefix in ((selection.alpaca_judge, "ae"), (selection.pairwise_judge, "pw")):
        assert judge is not None and selection.baseline is not None
        shown = rows.dropna(subset=[f"{prefix}_lc_variant"])
        assert len(shown) == len(data.checkpoints)
        for row in shown.to_dict(orient="records"):
            (expected,) = summary[
                judge.mask(summary)
                & (summary["model_id"] == row["model_id"])
                & (summary["decoding"] == row["decoding"])
                & (summary["baseline_id"] == selection.baseline[0])
            ].to_dict(orient="records")
            assert row[f"{prefix}_lc"] == pytest.approx(expected["length_controlled_winrate"], nan_ok=True)
            assert row[f"{prefix}_lc_se"] == pytest.approx(expected["lc_standard_error"], nan_ok=True)
            assert row[f"{prefix}_lc_variant"] == expected["lc_variant"] == "length_controlled_minimal"
            assert pd.isna(row[f"{prefix}_lc_withheld"]) == pd.isna(expected["lc_withheld"])  # None and NaN: no reason
            if not pd.isna(expected["lc_withheld"]):
                assert row[f"{prefix}_lc_withheld"] == expected["lc_withheld"]
    # answers shorter than the baseline's on every pair: no number, the reason, in the table and its CSV
    one_sided = judged_tables(store).comparisons.assign(model_len=lambda frame: frame["baseline_len"] - 1)
    lc = length_control_table(one_sided, snapshot.prompt_sets, set(snapshot.prompts["hash"]))
    withheld = tables.leaderboard_rows(replace(snapshot, lc=lc), selection).dropna(subset=["pw_lc_variant"])
    assert withheld["pw_lc"].isna().all() and withheld["pw_lc_se"].isna().all()
    assert withheld["pw_lc_withheld"].str.contains("shorter than the baseline's on 100% of pairs").all()
    csv = columns.titled(withheld, columns.shown_columns(withheld))
    assert "Pairwise LC withheld" in csv.columns and "Pairwise LC WR" not in csv.columns  # no number anywhere


def test_leaderboard_rows_of_equal_figures_are_in_natural_epoch_order(built) -> None:
    from dataclasses import replace

    _, data, snapshot = built
    renamed = {data.checkpoints[1]: data.checkpoints[1].replace("epoch-2", "epoch-10")}  # string order: epoch-1, epoch-10, ...
    assert list(renamed.values()) != list(renamed)
    snapshot = replace(snapshot, models=snapshot.models.assign(name=snapshot.models["name"].replace(renamed)))
    selection = tables.Selection(snap.ALL_PROMPTS, None, None, None, None)  # no figures: every row ties
    checkpoints = [renamed.get(name, name) for name in data.checkpoints]
    names = [name for name in tables.leaderboard_rows(snapshot, selection)["model"] if name in checkpoints]
    assert names == sorted(checkpoints, key=natural_key) and names[-1].endswith("epoch-10")


def test_rater_groups_pool_over_items() -> None:
    pairs = pd.DataFrame(
        {
            "rater_a": ["ann", "ann", "bob"],
            "rater_b": ["bob", "gpt", "gpt"],
            "n": [10, 30, 10],
            "tie_discounted": [0.8, 0.6, 1.0],
            "agreement": [0.7, 0.5, 1.0],
            "cohen_kappa": [0.5, 0.2, 1.0],
        }
    )
    grouped = tables.rater_pair_kinds(pairs, {"ann", "bob"}).set_index("raters")
    assert grouped.loc["annotator – judge", "tie_discounted"] == pytest.approx((0.6 * 30 + 1.0 * 10) / 40)
    assert grouped.loc["annotator – judge", "mean_cohen_kappa"] == pytest.approx(0.6)
    assert grouped.loc["annotator – annotator", "items"] == 10


def test_snapshot_roundtrips_through_parquet(built, tmp_path) -> None:
    _, _, snapshot = built
    snap.save(snapshot, tmp_path / "snap")
    loaded = snap.load(tmp_path / "snap")
    assert loaded is not None and loaded.token == snapshot.token
    pd.testing.assert_frame_equal(loaded.pairwise_summary, snapshot.pairwise_summary, check_dtype=False)
    pd.testing.assert_frame_equal(loaded.pairs, snapshot.pairs, check_dtype=False)
    assert loaded.source == "" and not loaded.pairs.empty  # the store's URL is never written to disk
    assert snap.load(tmp_path / "missing") is None


def test_cache_serves_stale_then_fresh_and_restarts_from_disk(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    data = populate(store, runs=1, epochs=2, prompts=6, with_decisions=False)
    cache = SnapshotCache(store, tmp_path / "cache")
    first = cache.serve(results_token(store))
    assert not first.stale and first.snapshot.token == results_token(store)
    cache.wait_idle(timeout=120)
    assert cache.serve(results_token(store)).snapshot.has_row_figures  # the row figures arrive in the background
    model = data.generation_ids[data.checkpoints[0]]
    prompt = next(iter(model))
    store.add_judgments_with_uses(
        [Judgment("k" * 64, "likert", "s" * 64, "late-judge", prompt, model[prompt], None, None, 0, "6", score=6.0)],
        [("k" * 64, model[prompt], None)],
    )
    new_token = results_token(store)
    served = cache.serve(new_token)
    assert served.stale and served.snapshot.token == first.snapshot.token  # the old numbers, at once
    cache.wait_idle(timeout=120)
    assert cache.serve(new_token).snapshot.token == new_token
    monkeypatch.setattr(build, "build_snapshot", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt")))
    restarted = SnapshotCache(store, tmp_path / "cache").serve(new_token)  # a new server process
    assert restarted.snapshot.token == new_token and not restarted.stale
    assert "late-judge" in set(restarted.snapshot.likert_summary["judge_model"])


def test_prepare_builds_before_serving_and_the_worker_process_rebuilds(tmp_path) -> None:
    """What `evalkit leaderboard` does: prepare() builds in the calling thread (nothing is served yet);
    later rebuilds and length control run in the worker process and give the same numbers."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    data = populate(store, runs=1, epochs=2, prompts=6, with_decisions=False)
    worker = Worker()
    try:
        cache = SnapshotCache(store, tmp_path / "cache", worker)
        prepared = cache.prepare()
        assert not prepared.stale and prepared.snapshot.token == results_token(store)
        cache.wait_idle(timeout=180)
        served = cache.serve(results_token(store)).snapshot
        in_process = build.with_row_figures(build.build_snapshot(store, served.token))
        pd.testing.assert_frame_equal(served.lc, in_process.lc)  # computed by the worker
        model = data.generation_ids[data.checkpoints[0]]
        prompt = next(iter(model))
        store.add_judgments_with_uses(
            [Judgment("w" * 64, "likert", "s" * 64, "late-judge", prompt, model[prompt], None, None, 0, "6", score=6.0)],
            [("w" * 64, model[prompt], None)],
        )
        assert cache.serve(results_token(store)).stale
        cache.wait_idle(timeout=180)
        rebuilt = cache.serve(results_token(store)).snapshot
        assert not cache.serve(results_token(store)).stale and "late-judge" in set(rebuilt.likert_summary["judge_model"])
        expected = build.build_snapshot(store, rebuilt.token)
        pd.testing.assert_frame_equal(rebuilt.likert_summary, expected.likert_summary)
        pd.testing.assert_frame_equal(rebuilt.pairwise_summary, expected.pairwise_summary)
    finally:
        worker.close()


def test_unjudged_prompt_sets_are_not_scopes(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    populate(store, runs=1, epochs=2, prompts=6, with_decisions=False)
    store.save_prompt_set(PromptSet("never-judged", (Prompt("x", ({"role": "user", "content": "unjudged?"},)),), "test"))
    snapshot = build.build_snapshot(store, results_token(store))
    assert snapshot.scopes() == [snap.ALL_PROMPTS] and len(snapshot.prompts) == 6
    assert set(snapshot.prompts["hash"]) == set(judged_tables(store).pairwise["prompt_hash"])


def test_exports_are_real_png_and_svg() -> None:
    shares = pd.DataFrame({"row": ["m vs b", "n vs b"], "win": [0.5, 0.2], "tie": [0.1, 0.3], "loss": [0.4, 0.5]})
    chart = charts.preference_bars(shares, title="Preference")
    png = spec_png(chart.to_json())
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    svg = spec_svg(chart.to_json())
    assert svg.lstrip().startswith("<svg") and "Model wins" in svg and "50%" in svg and "Baseline wins" in svg


def test_length_bins_cover_every_valid_verdict(built) -> None:
    store, _, snapshot = built
    both = judged_tables(store).comparisons
    valid = both.dropna(subset=["preference"]).groupby("judge_kind").size()
    binned = snapshot.length_bins.groupby("judge_kind")["n"].sum()
    assert binned.to_dict() == valid.to_dict()
    for _, rows in snapshot.length_bins.groupby("judge_kind"):
        assert rows["length_difference"].is_monotonic_increasing and rows["preference"].between(1, 2).all()
    assert set(snapshot.judge_bias["rater"]) == {"pairwise:gpt-4o-2024-08-06", "alpaca_eval:weighted_alpaca_eval_gpt4_turbo"}


def test_rows_on_demand_bind_no_parameter_per_answer(built) -> None:
    """SQLite builds cap a statement's bound parameters (32,766 by default): the answer ids of a Compare
    are written into the statement, so two large models' rows read under a cap of 40 here (the judges' codes take the few it binds)."""
    store, data, _ = built
    capped = Store(store.url, read_only=True)

    @sqlalchemy.event.listens_for(capped.engine, "connect")
    def cap(connection: sqlite3.Connection, _record: object) -> None:
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 40)

    capped.engine.dispose()  # connections from now on are capped
    model, baseline = store.model_id(data.checkpoints[2]), store.model_id(data.baselines[0])
    try:
        rows = pair_tables(capped, [model, baseline])
    finally:
        capped.close()
    expected = pair_tables(store, [model, baseline])
    assert 2 * len(generation_ids_of(store, [model, baseline])) > 40 and len(rows.pairwise) > 0  # each id is used twice
    for name in ("pairwise", "alpaca", "single"):
        pd.testing.assert_frame_equal(getattr(rows, name), getattr(expected, name))
