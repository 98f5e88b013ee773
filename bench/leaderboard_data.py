"""A synthetic results store shaped like a real sweep, for the leaderboard's speed test and UI tests.

`populate(store, runs=10, epochs=10, prompts=805)` writes `runs x epochs` checkpoints (run `run-R`,
epochs 1..E) plus two baselines, one generation per model and prompt, and judgments by three judges:
a pairwise judge (both orders against each baseline), a Likert judge and an AlpacaEval-style judge.
Verdicts come from a hidden per-checkpoint quality (best around epoch 7), a little position bias and
a length effect, so plots have shapes worth looking at. Every row goes through the Store's own
methods, so what the app reads is exactly what a real run writes.

    python bench/leaderboard_data.py --db sqlite:///bench.db            # 100 checkpoints x 805 prompts
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select

from evalkit.hashing import content_hash
from evalkit.records import Decision, DecodingParams, GenerationResult, Judgment, ModelInfo, Prompt, PromptSet
from evalkit.store import Store
from evalkit.store import schema as t

WORDS = ("the model answer explains data training loss token prompt step gradient epoch helpful clear "
         "because therefore example python list value result first second finally note however").split()
BASELINES = ("gpt-3.5-turbo", "alpaca-65b")
PAIRWISE_JUDGE = "gpt-4o-2024-08-06"
LIKERT_JUDGE = "gpt-4o-mini"
ALPACA_JUDGE = "weighted_alpaca_eval_gpt4_turbo"


@dataclass(frozen=True)
class Populated:
    prompt_set: str
    checkpoints: list[str]
    baselines: list[str]
    generation_ids: dict[str, dict[str, int]]  # model name -> prompt hash -> generation id


def _text(rng: np.random.Generator, n_words: int) -> str:
    return " ".join(rng.choice(WORDS, size=max(n_words, 3)))


def _quality(epoch: int, run: int) -> float:
    """Log-odds of beating the baseline: rises, peaks near epoch 7, then overfits."""
    return -1.2 + 0.45 * epoch - 0.035 * epoch**2 + 0.08 * (run % 4)


def _generations(store: Store, model_id: int, prompts: list[Prompt], rng: np.random.Generator, mean_words: int) -> None:
    lengths = rng.poisson(mean_words, size=len(prompts))
    results = [GenerationResult(p.hash, 0, _text(rng, int(n)), 20, int(n), "stop", 0.5) for p, n in zip(prompts, lengths)]
    store.add_generations(model_id, DecodingParams(), "bench", results)


def _judgment(kind: str, judge: str, prompt_hash: str, a: int, b: int | None, order: str | None, raw: str,
              verdict: str | None = None, score: float | None = None, valid: bool = True, sample: int = 0) -> Judgment:
    key = content_hash([kind, judge, prompt_hash, a, b, order, sample])
    return Judgment(key, kind, content_hash([kind, judge]), judge, prompt_hash, a, b, order, sample, raw, verdict, score,
                    valid, 1, 300, 40, 0.0004, 1.2)


def _pairwise(rng: np.random.Generator, q: float, model_gen: dict[str, int], base_gen: dict[str, int],
              prompts: list[Prompt]) -> list[Judgment]:
    out: list[Judgment] = []
    for order, model_shown_first in (("AB", True), ("BA", False)):
        logit = q + (0.25 if model_shown_first else -0.25) + rng.normal(0, 1.2, len(prompts))
        p_model = 1 / (1 + np.exp(-logit))
        draw = rng.random(len(prompts))
        tie = rng.random(len(prompts)) < 0.15
        invalid = rng.random(len(prompts)) < 0.01
        for i, p in enumerate(prompts):
            m, bl = model_gen[p.hash], base_gen[p.hash]
            a, b = (m, bl) if model_shown_first else (bl, m)
            model_wins = draw[i] < p_model[i]
            verdict = "tie" if tie[i] else ("A" if model_wins == model_shown_first else "B")
            raw = f"Answer {verdict} is more complete and accurate." if verdict != "tie" else "Neither is significantly better."
            out.append(_judgment("pairwise", PAIRWISE_JUDGE, p.hash, a, b, order, "I cannot decide." if invalid[i] else raw,
                                 None if invalid[i] else verdict, valid=not invalid[i]))
    return out


def populate(store: Store, runs: int = 10, epochs: int = 10, prompts: int = 805, seed: int = 0,
             with_decisions: bool = True) -> Populated:
    rng = np.random.default_rng(seed)
    prompt_list = [Prompt(f"p{i}", ({"role": "user", "content": f"Question {i}: {_text(rng, 12)}?"},), dataset="bench")
                   for i in range(prompts)]
    prompt_set = PromptSet("bench", tuple(prompt_list), "bench")
    store.save_prompt_set(prompt_set)

    names: dict[str, int] = {}
    for name in BASELINES:
        names[name] = store.register_model(ModelInfo(name, content_hash(["baseline", name])))
        _generations(store, names[name], prompt_list, rng, 120)
    checkpoints: list[str] = []
    for run in range(runs):
        for epoch in range(1, epochs + 1):
            name = f"run-{run}/epoch-{epoch}"
            names[name] = store.register_model(ModelInfo(name, content_hash(["ckpt", run, epoch]), f"ckpt/run-{run}/epoch-{epoch}",
                                                         epoch, f"run-{run}"))
            _generations(store, names[name], prompt_list, rng, 80 + 6 * epoch)
            checkpoints.append(name)

    frame = store.frame(select(t.generations.c.id, t.generations.c.model_id, t.generations.c.prompt_hash))
    by_id = {mid: dict(zip(g.prompt_hash, g.id)) for mid, g in frame.groupby("model_id")}
    gens = {name: {h: int(i) for h, i in by_id[mid].items()} for name, mid in names.items()}

    for name in checkpoints:
        run, epoch = int(name.split("/")[0][4:]), int(name.split("-")[-1])
        q = _quality(epoch, run)
        judgments: list[Judgment] = []
        for k, baseline in enumerate(BASELINES):
            judgments += _pairwise(rng, q - 0.6 * k, gens[name], gens[baseline], prompt_list)
        scores = np.clip(np.round(3.5 + q + rng.normal(0, 1.0, prompts)), 1, 6)
        alpaca = 1 + 1 / (1 + np.exp(-(q - 0.3 + rng.normal(0, 1.5, prompts))))
        for i, p in enumerate(prompt_list):
            m = gens[name][p.hash]
            judgments.append(_judgment("likert", LIKERT_JUDGE, p.hash, m, None, None, f"Score: {int(scores[i])}", score=float(scores[i])))
            judgments.append(_judgment("alpaca_eval", ALPACA_JUDGE, p.hash, gens[BASELINES[0]][p.hash], m, "BA",
                                       "m" if alpaca[i] > 1.5 else "M", score=float(alpaca[i])))
        store.add_judgments(judgments)

    if with_decisions:
        for run in range(runs):
            best = max(range(5, min(epochs, 10) + 1), key=lambda e: _quality(e, run), default=epochs)
            store.add_decision(
                Decision(f"run-{run}", f"run-{run}/epoch-{best}", best, "max-winrate",
                         {"window": [5, 10], "runner_up": f"run-{run}/epoch-{best - 1}", "p_value": 0.21,
                          "metric": "pairwise win rate vs gpt-3.5-turbo"}),
                names[f"run-{run}/epoch-{best}"],
            )
    return Populated("bench", checkpoints, list(BASELINES), gens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--prompts", type=int, default=805)
    args = parser.parse_args()
    start = time.perf_counter()
    store = Store(args.db)
    populate(store, args.runs, args.epochs, args.prompts)
    tables = {"models": t.models, "generations": t.generations, "judgments": t.judgments}
    with store.engine.connect() as conn:
        counts = {name: conn.execute(select(func.count()).select_from(table)).scalar_one() for name, table in tables.items()}
    print(f"populated {args.db} in {time.perf_counter() - start:.1f}s: {counts}")


if __name__ == "__main__":
    main()
