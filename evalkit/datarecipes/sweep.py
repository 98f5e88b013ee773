"""`evalkit sweep`: train and evaluate a grid of data recipes, then name the best with its significance.

Each cell's data file and training output are named by the hash of what decides them (the cell's rows;
those plus base model, recipe and epochs), so cells with identical data share one run, and a re-run
finds every finished run (training's own resume finishes an interrupted one) and every stored
generation and judgment: it trains nothing and asks no judge again. Cells and the decision are
recorded in the store (tables sweeps, sweep_cells), which the leaderboard's Experiments page reads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.data import load_prompt_set
from evalkit.datarecipes.cell_score import CellScore, score_checkpoint
from evalkit.datarecipes.grid import CellSpec, cell_rows, plan_cells, source_names
from evalkit.datarecipes.rows import Row, read_rows, rows_hash, write_rows
from evalkit.decision.policy import versus_runner_up
from evalkit.files.jsonio import json_safe
from evalkit.jobs.evaluation import RunConfig
from evalkit.store import Store, data_tables
from evalkit.train import checkpoints

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepRequest:
    data: list[Path]
    sizes: list[int]
    model: Path
    out: Path
    recipe: str = "lima"
    epochs: int | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    proportions: tuple[float, ...] = ()
    ability_field: str = "category"
    seed: int = 0
    name: str | None = None
    config: RunConfig = field(default_factory=RunConfig)
    progress: bool = True
    n_resamples: int = 10_000


def _definition(request: SweepRequest, sources: dict[str, list[Row]], overrides: dict[str, str]) -> dict[str, Any]:
    config = request.config
    return json_safe(
        {
            "sources": {name: rows_hash(rows) for name, rows in sources.items()},
            "sizes": request.sizes,
            "proportions": list(request.proportions),
            "ability_field": request.ability_field,
            "seed": request.seed,
            "model": str(request.model.resolve()),
            "recipe": request.recipe,
            "overrides": overrides,
            "prompts": config.prompts,
            "judges": list(config.judges) if config.judges else None,
            "baseline": config.baseline,
            "judge_model": config.judge_model,
            "decoding": config.decoding.hash,
        }
    )


def _train(request: SweepRequest, data_file: Path, train_dir: Path, overrides: dict[str, str]) -> bool:
    """Train unless a finished run is there; True when this call trained."""
    from evalkit.train.engine import TrainRequest, run_training

    previous = checkpoints.read_run(train_dir) if train_dir.exists() else None
    if previous is not None and previous.get("status") == "finished":
        return False
    run_training(
        TrainRequest(
            data=data_file,
            model=request.model,
            out=train_dir,
            recipe=request.recipe,
            overrides=overrides,
            progress=request.progress,
        )
    )
    return True


def _cell_record(cell: CellSpec, rows: list[Row], data_hash: str, checkpoint: Path, score: CellScore) -> dict[str, Any]:
    return {
        "cell_key": content_hash([cell.source, cell.size, cell.ability, cell.proportion]),
        "source": cell.source,
        "size": cell.size,
        "ability": cell.ability,
        "proportion": cell.proportion,
        "n_examples": len(rows),
        "data_hash": data_hash,
        "checkpoint": str(checkpoint),
        "model_id": score.model_id,
        "judge": score.judge,
        "n": score.n,
        "win_rate": score.win_rate,
        "ci_low": score.ci_low,
        "ci_high": score.ci_high,
    }


def run_sweep(store: Store, request: SweepRequest) -> dict[str, Any]:
    from evalkit.train.recipes import load_recipe_spec

    paths = source_names(request.data)
    sources = {name: read_rows(path) for name, path in paths.items()}
    cells = plan_cells(sources, request.sizes, request.proportions, request.ability_field)
    if not (request.model / "config.json").is_file():
        raise EvalkitError(f"{request.model}: not a Hugging Face model directory (no config.json); pass --model BASE_DIR")
    overrides = dict(request.overrides) | ({"epochs": str(request.epochs)} if request.epochs is not None else {})
    load_recipe_spec(request.recipe, overrides)  # a wrong recipe or prompt set fails now, not after the first cell
    load_prompt_set(request.config.prompts)
    definition = _definition(request, sources, overrides)
    sweep_key = content_hash(definition)
    data_tables.save_sweep(store, sweep_key, request.name or request.out.resolve().name, definition)

    results: list[dict[str, Any]] = []
    scores: list[CellScore] = []
    for cell in cells:
        rows = cell_rows(sources[cell.source], cell, request.ability_field, request.seed)
        data_hash = rows_hash(rows)
        data_file = request.out / "data" / f"{cell.source}-{data_hash[:12]}.jsonl"
        if not data_file.is_file():
            write_rows(data_file, rows)
        run_key = content_hash([data_hash, definition["model"], request.recipe, overrides])
        train_dir = request.out / "train" / f"{cell.source}-n{len(rows)}-{run_key[:12]}"
        trained = _train(request, data_file, train_dir, overrides)
        epochs = checkpoints.complete_epochs(train_dir)
        if not epochs:
            raise EvalkitError(f"{train_dir}: training left no epoch-N checkpoint; check the recipe's save window")
        checkpoint = checkpoints.epoch_dir(train_dir.resolve(), epochs[-1])
        score = score_checkpoint(store, train_dir, epochs[-1], request.config)
        record = _cell_record(cell, rows, data_hash, checkpoint, score)
        data_tables.save_cell(store, sweep_key, record)
        results.append(record | {"name": cell.name, "trained": trained})
        scores.append(score)
    best = json_safe(choose_best(results, scores, request.n_resamples))  # NaN is not JSON: null
    data_tables.save_best(store, sweep_key, best)
    return json_safe({"sweep": sweep_key, "cells": results, "best": best})


def choose_best(cells: list[dict[str, Any]], scores: list[CellScore], n_resamples: int = 10_000) -> dict[str, Any]:
    """The highest win rate (ties: the smaller data set, then the earlier cell), and a paired bootstrap of
    its per-prompt preferences against the runner-up's on the prompts both have (as `pick` does)."""
    ranked = sorted(
        range(len(cells)), key=lambda i: (-np.nan_to_num(cells[i]["win_rate"], nan=-np.inf), cells[i]["n_examples"], i)
    )
    best = {key: value for key, value in cells[ranked[0]].items() if key != "trained"}
    if len(ranked) < 2:
        best["vs_runner_up"] = None
        return best
    runner = ranked[1]
    a, b = scores[ranked[0]].per_prompt, scores[runner].per_prompt
    prompts = a.index.intersection(b.index)
    versus = versus_runner_up(a[prompts], b[prompts], (cells[ranked[0]]["name"], cells[runner]["name"]), n_resamples=n_resamples)
    best["vs_runner_up"] = {
        "runner_up": versus.runner_up,
        "n": versus.n,
        "mean_a": versus.mean_a,
        "mean_b": versus.mean_b,
        "difference": versus.difference,
        "ci_low": versus.ci_low,
        "ci_high": versus.ci_high,
        "p_value": versus.p_value,
        "significant": versus.significant,
        "level": versus.level,
    }
    return best
