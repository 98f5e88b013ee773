"""The pick job (`evalkit pick`, `evalkit.pick(...)`): choose a training run's checkpoint from stored results, evaluating what is missing.

The figures it ranks by are the results layer's summary of the run (the numbers `evalkit run`
prints for the same checkpoints, judges and decoding); the per-prompt results only feed the paired
bootstrap. Writes the decision to the store, to RUN/picked.json and as a RUN/best link to the chosen
epoch.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit import __version__
from evalkit.core.errors import EvalkitError
from evalkit.core.records import Decision, JudgeIdentity
from evalkit.core.settings import db_url as resolve_db_url
from evalkit.decision.evidence import EvidenceRow, PickEvidence, PowerGuidance, Provenance, Significance
from evalkit.decision.policy import choose
from evalkit.decision.policy_names import COMBINED_POLICY, POLICIES, POLICY
from evalkit.files.jsonio import json_safe, write_json_atomic
from evalkit.generate.checkpoint import find_checkpoints
from evalkit.jobs.evaluation import DEFAULT_WINDOW, RunConfig, RunReport, run_evaluation
from evalkit.jobs.local_judge import JudgeServerSettings, served_judge
from evalkit.jobs.run import check_run_request
from evalkit.jobs.stopping import pick_stopping
from evalkit.results.combined import COMBINED_COLUMNS, VARIANCE_COLUMNS, store_combined
from evalkit.results.summary import Summary, select, summarize
from evalkit.results.tables import Tables, read_tables
from evalkit.store import Store
from evalkit.store import annotations as annotation_store
from evalkit.store.provenance import git_revision


def _link_best(run_dir: Path, chosen: str) -> None:
    """RUN/best -> epoch-N, replaced atomically so a reader never finds it missing."""
    link, temporary = run_dir / "best", run_dir / ".best.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(chosen, temporary, target_is_directory=True)
    os.replace(temporary, link)


def _judge_rows(frame: pd.DataFrame, judge: JudgeIdentity | None) -> pd.DataFrame:
    if judge is None or frame.empty:
        return frame.iloc[0:0]
    return frame[judge.mask(frame)]


def _figures(
    summary: Summary, win_judge: JudgeIdentity, grade_judge: JudgeIdentity | None, combined: pd.DataFrame
) -> pd.DataFrame:
    """Per model_id: the summary's win rate, valid and invalid counts, grade mean, and the combined
    (human + judge) figures of the win-rate judge where there are human labels."""
    wins = _judge_rows(summary.pairwise, win_judge)[["model_id", "win_rate", "n", "n_invalid"]].rename(columns={"n": "n_valid"})
    mine = _judge_rows(combined, win_judge)
    if not mine.empty:
        figures = mine[["model_id", *COMBINED_COLUMNS, *VARIANCE_COLUMNS]].astype({"model_id": wins["model_id"].dtype})
        wins = wins.merge(figures, on="model_id", how="left")
    grades = _judge_rows(summary.single, grade_judge)
    if grades.empty:
        return wins.assign(likert_mean=float("nan"))
    return wins.merge(grades[["model_id", "mean"]].rename(columns={"mean": "likert_mean"}), on="model_id", how="outer")


def _evidence(
    run: Path,
    decision: dict[str, Any],
    report: RunReport,
    checkpoints: pd.DataFrame,
    window: tuple[int, ...],
    win_judge: JudgeIdentity,
    grade_judge: JudgeIdentity | None,
) -> PickEvidence:
    decodings = dict(report.generation_sets)
    rows = [EvidenceRow(decoding=decodings[int(row["model_id"])], **row) for row in decision["evidence"]]
    significance = Significance(**decision["significance"]) if decision["significance"] else None
    return PickEvidence(
        chosen=decision["chosen"],
        epoch=decision["epoch"],
        model_id=decision["model_id"],
        run=str(run.resolve()),
        policy=decision["policy"],
        reason=decision["reason"],
        best_by_win_rate=decision["best_by_win_rate"],
        judge=win_judge.kind,
        judge_model=win_judge.model,
        judge_spec_hash=win_judge.spec_hash,
        likert_judge=grade_judge,
        baseline=report.baseline_name,
        baseline_decoding=report.baseline[1],
        decoding=decodings[int(decision["model_id"])],
        prompt_set=report.prompt_set.name,
        window=(min(window), max(window)),
        missing_epochs=sorted(set(window) - {int(e) for e in checkpoints["epoch"]}),
        skipped={o.checkpoint.path.name: o.error for o in report.outcomes if o.error},
        evidence=rows,
        significance=significance,
        provenance=Provenance(evalkit_version=__version__, git_revision=git_revision(), run_id=report.run_id),
        decided=decision["decided"],
        prompts_to_separate=decision["prompts_to_separate"],
        more_prompts_to_separate=decision["more_prompts_to_separate"],
        power=PowerGuidance(**decision["power"]),
    )


def pick_run(
    run_dir: str | Path,
    config: RunConfig,
    *,
    db: str | None = None,
    window: tuple[int, ...] = DEFAULT_WINDOW,
    policy: str = POLICY,
    server: JudgeServerSettings | None = None,
) -> PickEvidence:
    """The pick job (`evalkit pick`, `evalkit.pick(...)`): check the judges and baseline before the store
    is opened, serve a judge checkpoint if one is asked for, then evaluate and decide (`decide`)."""
    server = server or JudgeServerSettings()
    check_run_request(config, resolve_db_url(db), bool(server.judge_checkpoint))
    with served_judge(server) as served:  # started (or refused) before anything is generated; stopped at the end
        return decide(run_dir, db_url=db, config=replace(config, served_judge=served), window=window, policy=policy)


def pick_checkpoint(
    run_dir: str | Path,
    *,
    db_url: str | None = None,
    config: RunConfig | None = None,
    window: tuple[int, ...] = DEFAULT_WINDOW,
    policy: str = POLICY,
    n_resamples: int = 10_000,
) -> dict[str, Any]:
    """`decide`, as the record picked.json holds (what `evalkit train --pick` reports)."""
    return decide(run_dir, db_url=db_url, config=config, window=window, policy=policy, n_resamples=n_resamples).as_dict()


def decide(
    run_dir: str | Path,
    *,
    db_url: str | None = None,
    config: RunConfig | None = None,
    window: tuple[int, ...] = DEFAULT_WINDOW,
    policy: str = POLICY,
    n_resamples: int = 10_000,
) -> PickEvidence:
    """Evaluate the window's checkpoints (finished work is skipped), apply the policy, and record the
    decision: in the store, as RUN/picked.json and as the RUN/best link."""
    if policy not in POLICIES:
        raise EvalkitError(f"unknown picking policy {policy!r}; use one of {', '.join(POLICIES)}")
    root = Path(run_dir)
    if (root / "config.json").is_file():
        raise EvalkitError(f"{root} is one model, not a training output with epoch-N/ checkpoints; nothing to pick from")
    present = find_checkpoints(root, list(window))
    store = Store(resolve_db_url(db_url))
    if policy == COMBINED_POLICY and annotation_store.labels(store).empty:
        raise EvalkitError(
            f"policy {COMBINED_POLICY} ranks on human labels and the store has none: label the checkpoints with "
            f"`evalkit annotate create`, or pick with --policy {POLICY}"
        )
    config = replace(config or RunConfig(), epochs=[c.epoch for c in present if c.epoch is not None])
    report = run_evaluation(store, str(root), config, command="pick")
    win_judge, grade_judge = report.headline(True), report.headline(False)
    if win_judge is None:
        raise EvalkitError(
            "picking needs a judge that compares with the baseline (pairwise, alpaca_eval, reference or a "
            "pairwise spec) in --judges"
        )
    evaluated = [o for o in report.outcomes if o.generation_set is not None]
    checkpoints = pd.DataFrame(
        {
            "model_id": [o.model_id for o in evaluated],
            "name": [o.checkpoint.path.name for o in evaluated],
            "epoch": [o.checkpoint.epoch for o in evaluated],
        }
    )
    # Epochs with identical weights are one model in the store; the earliest stands for them.
    checkpoints = checkpoints.sort_values("epoch").drop_duplicates("model_id", keep="first")
    tables: Tables = select(read_tables(store, instructions=False), report.scope())
    summary = summarize(tables)
    combined = store_combined(store, tables)
    comparisons = _judge_rows(tables.comparisons, win_judge)
    grades = _judge_rows(tables.single, grade_judge)
    decision = json_safe(
        choose(
            comparisons,
            grades,
            checkpoints,
            figures=_figures(summary, win_judge, grade_judge, combined),
            n_resamples=n_resamples,
            policy=policy,
        )
    )
    pick = _evidence(root, decision, report, checkpoints, window, win_judge, grade_judge)
    if config.stopping is not None:  # without it every missing judgment was just made: nothing was stopped
        pick = replace(pick, stopping=pick_stopping(store, tables, report, checkpoints, win_judge))
    record = pick.as_dict()  # the one serialisation: picked.json, the store, `pick --json`, the leaderboard
    write_json_atomic(root / "picked.json", record)
    _link_best(root, pick.chosen)
    store.add_decision(
        Decision(run=pick.run, chosen_model=pick.chosen, epoch=pick.epoch, policy=policy, evidence=record),
        chosen_model_id=pick.model_id,
    )
    return pick
