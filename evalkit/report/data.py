"""Everything the report shows, gathered from a store opened read-only into one JSON-safe dict: the
leaderboard (the results layer's summary, with the bootstrap `evalkit stats summary` uses by default),
the Checkpoints view (with the stored decisions), the per-prompt drill-down, agreement, the saved
judge-quality reports and LIMA's absolute ratings. No figure is computed here; each comes from the
module that owns it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit import __version__
from evalkit.core.errors import EvalkitError
from evalkit.core.ordering import natural_key
from evalkit.core.records import GenerationSetKey
from evalkit.core.redaction import redact_url
from evalkit.files.jsonio import json_safe
from evalkit.report.checkpoints import checkpoints
from evalkit.report.figure_tables import agreement_tables, judge_quality_tables
from evalkit.report.leaderboard import judges_of, leaderboard
from evalkit.report.prompts import prompt_views
from evalkit.report.ratings import rated_answers, ratings_section

if TYPE_CHECKING:
    from evalkit.results.tables import Tables

REPORT_FORMAT = "evalkit-report"
REPORT_VERSION = 1


def _chosen_run(runs: list[str], wanted: str | None) -> str | None:
    """The stored run `wanted` names: as stored, as a path resolved here, or by its last folder name."""
    if wanted is None:
        return None
    for candidate in (wanted, str(Path(wanted).resolve())):
        if candidate in runs:
            return candidate
    by_name = [run for run in runs if Path(run).name == Path(wanted).name]
    if len(by_name) == 1:
        return by_name[0]
    known = ", ".join(sorted(runs, key=natural_key)) or "none"
    raise EvalkitError(f"no training run {wanted!r} in the store (runs: {known})")


def gather(url: str, run: str | None = None) -> dict[str, Any]:
    """The report's data for the store at `url` (read-only: a missing store is an error, none is
    created); `run`: only that training run's checkpoints, and the baselines they were compared with."""
    from evalkit.jobs.stats import Bootstrap
    from evalkit.results.decodings import decodings
    from evalkit.results.summary import Scope, summarize
    from evalkit.results.tables import read_tables
    from evalkit.store import Store
    from evalkit.store import annotations as annotation_store
    from evalkit.store.catalog_reads import model_rows, prompt_texts, reference_answers
    from evalkit.store.judge_quality_reports import report_rows
    from evalkit.store.ratings import rating_batches, ratings
    from evalkit.store.report_reads import answer_texts

    store = Store(url, read_only=True)
    models = json_safe(model_rows(store).to_dict(orient="records"))
    runs = sorted({str(m["run"]) for m in models if m["run"] is not None}, key=natural_key)
    chosen = _chosen_run(runs, run)
    in_scope = {int(m["id"]) for m in models if chosen is None or m["run"] == chosen}
    tables = read_tables(store, instructions=False)
    bootstrap = Bootstrap()  # `evalkit stats summary`'s defaults: the same intervals, digit for digit
    scope = None
    if chosen is not None:
        sets = {GenerationSetKey(int(m), str(d)) for m, d in _generation_sets(tables) if int(m) in in_scope}
        scope = Scope(generation_sets=frozenset(sets))
    summary = summarize(
        tables, scope, n_resamples=bootstrap.resamples, level=bootstrap.level, seed=bootstrap.seed, length_controlled=True
    )
    by_id = {int(m["id"]): m for m in models}
    stored_decodings = decodings(store)
    labels = dict(zip(stored_decodings["decoding"], stored_decodings["label"]))
    judges = judges_of(summary)
    judge_labels = {judge["key"]: judge["label"] for judge in judges}
    board = leaderboard(summary, by_id, labels)
    decisions = json_safe(store.decisions().to_dict(orient="records"))
    for decision in decisions:
        decision["created_at"] = str(decision["created_at"]) if decision["created_at"] is not None else None
    prompts = prompt_texts(store)
    humans = annotation_store.labels(store)
    batch_names = {int(b.id): str(b.name) for b in rating_batches(store).itertuples(index=False)}
    rated = rated_answers(ratings(store), batch_names, in_scope)
    views, answer_ids = prompt_views(tables, prompts, reference_answers(store, prompts["hash"]), humans, in_scope, rated)
    saved = [{**row, "created_at": str(row["created_at"])} for row in report_rows(store).to_dict(orient="records")]
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "generated": {
            "at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "evalkit_version": __version__,
            "store": redact_url(url),
            "run": chosen,
        },
        "bootstrap": {"resamples": bootstrap.resamples, "level": bootstrap.level, "seed": bootstrap.seed},
        "judges": judges,
        "models": [m for m in models if int(m["id"]) in in_scope],
        "leaderboard": board,
        "checkpoints": checkpoints(board, [chosen] if chosen else runs, decisions, judge_labels),
        "prompts": views,
        "answers": {str(k): v for k, v in answer_texts(store, answer_ids).items()},
        # agreement pools every rater's labels in the store, so it is shown for the whole store only
        "agreement": agreement_tables(url) if chosen is None else [],
        "judge_quality": judge_quality_tables(saved),
        # empty when the store holds no absolute ratings: the page then shows no Ratings view
        "ratings": ratings_section(store, {str(m["name"]) for m in models if int(m["id"]) in in_scope}, chosen is None),
    }


def _generation_sets(tables: Tables) -> set[tuple[int, str]]:
    """Every (model id, decoding) with a judged row in any table."""
    found: set[tuple[int, str]] = set()
    for name in ("pairwise", "alpaca", "single"):
        frame = tables.of(name)
        if not frame.empty:
            found |= set(zip(frame["model_id"].astype(int), frame["decoding"].astype(str)))
    return found
