"""A synthetic results store shaped like a real sweep, for the leaderboard's speed test and UI tests.

`populate(store, runs=10, epochs=10, prompts=805)` writes `runs x epochs` checkpoints (run `run-R`,
epochs 1..E) plus two baselines, one generation per model and prompt, and judgments by three judges:
a pairwise judge (both orders against each baseline), a Likert judge and an AlpacaEval-style judge
(one order per prompt, score = 1 + P(model better)).
Verdicts come from a hidden per-checkpoint quality (best around epoch 7), a little position bias and
a length effect, so plots have shapes worth looking at. Every row goes through the Store's own
methods, so what the app reads is exactly what a real run writes.

    python bench/leaderboard_data.py --db sqlite:///bench.db            # 100 checkpoints x 805 prompts
    python bench/leaderboard_data.py --db postgresql+psycopg://... --scale 10x   # 1,000 x 833: 5M judgments

At 10x, rows go to PostgreSQL with COPY (`bulk=True`): the Store's batched inserts write ~3.4k
judgments/s here (~25 min for 5M); with COPY, building the rows in Python is the limit (5M judgments,
decisions included, in 15.5 min on 2 cores). The rows are the ones the Store's methods write (same
columns and keys; a test reads both back equal), so what the app reads does not depend on the path.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import func, select

from evalkit.core.hashing import content_hash
from evalkit.core.records import Decision, DecodingParams, GenerationResult, Judgment, ModelInfo, Prompt, PromptSet
from evalkit.store import Store
from evalkit.store import schema as t
from evalkit.store.store import decoding_identity

WORDS = (
    "the model answer explains data training loss token prompt step gradient epoch helpful clear "
    "because therefore example python list value result first second finally note however"
).split()
BASELINES = ("gpt-3.5-turbo", "alpaca-65b")
PAIRWISE_JUDGE = "gpt-4o-2024-08-06"
LIKERT_JUDGE = "gpt-4o-mini"
ALPACA_JUDGE = "weighted_alpaca_eval_gpt4_turbo"


# --scale: (runs, epochs, prompts). 10x: 1,000 checkpoints x 833 prompts x 6 judge calls = 5.0M judgments.
SCALES = {"1x": (10, 10, 805), "10x": (100, 10, 833)}


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


class _Writer:
    """Writes generations and judgments through the Store's methods, or with PostgreSQL's COPY when
    `bulk` (the same rows, without the per-row cost of the ORM's parameter handling)."""

    GENERATION_COLUMNS = ("model_id", "decoding_hash", "decoding", "backend", "prompt_hash", "sample", "text",
                          "prompt_tokens", "completion_tokens", "finish_reason", "latency_s")  # fmt: skip
    JUDGMENT_COLUMNS = tuple(f.name for f in t.judgments.columns if f.name not in ("id", "created_at"))

    def __init__(self, store: Store, bulk: bool) -> None:
        self.store = store
        self.bulk = bulk and store.engine.dialect.name == "postgresql"

    def _copy(self, table: str, columns: Iterable[str], rows: Iterable[tuple[object, ...]]) -> None:
        quoted = ", ".join(f'"{c}"' for c in columns)
        raw = self.store.engine.raw_connection()
        try:
            cursor = raw.cursor()
            with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:  # psycopg's cursor (bulk is PostgreSQL only)
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()

    def generations(self, model_id: int, results: list[GenerationResult]) -> None:
        if not self.bulk:
            self.store.add_generations(model_id, DecodingParams(), "bench", results)
            return
        decoding_hash, decoding = decoding_identity(DecodingParams())
        text = json.dumps(decoding)
        self._copy(
            "generations",
            self.GENERATION_COLUMNS,
            ((model_id, decoding_hash, text, "bench", *asdict(r).values()) for r in results),
        )

    def judgments(self, judgments: list[Judgment]) -> None:
        uses = [(j.cache_key, int(j.generation_a or 0), j.generation_b) for j in judgments]  # every bench judgment has an answer
        if not self.bulk:
            self.store.add_judgments_with_uses(judgments, uses)
            return
        fields = (asdict(j) for j in judgments)
        rows = (tuple(json.dumps(f[c]) if c == "extra" else f[c] for c in self.JUDGMENT_COLUMNS) for f in fields)
        self._copy("judgments", self.JUDGMENT_COLUMNS, rows)
        self._copy(
            "judgment_uses",
            ("use_key", "cache_key", "generation_a", "generation_b"),
            ((content_hash([key, a, b]), key, a, b) for key, a, b in uses),
        )


def _generations(writer: _Writer, model_id: int, prompts: list[Prompt], rng: np.random.Generator, mean_words: int) -> None:
    lengths = rng.poisson(mean_words, size=len(prompts))
    results = [GenerationResult(p.hash, 0, _text(rng, int(n)), 20, int(n), "stop", 0.5) for p, n in zip(prompts, lengths)]
    writer.generations(model_id, results)


def _judgment(
    kind: str,
    judge: str,
    prompt_hash: str,
    a: int,
    b: int | None,
    order: str | None,
    raw: str,
    verdict: str | None = None,
    score: float | None = None,
    valid: bool = True,
    sample: int = 0,
) -> Judgment:
    """A stored judge call: `a` is the evaluated model's generation, `b` the baseline's, `order` the shown one."""
    key = content_hash([kind, judge, prompt_hash, a, b, order, sample])
    return Judgment(
        key,
        kind,
        content_hash([kind, judge]),
        judge,
        prompt_hash,
        a,
        b,
        order,
        sample,
        raw,
        verdict,
        score,
        valid,
        1,
        300,
        40,
        0.0004,
        1.2,
    )


def _pairwise(
    rng: np.random.Generator, q: float, model_gen: dict[str, int], base_gen: dict[str, int], prompts: list[Prompt]
) -> list[Judgment]:
    out: list[Judgment] = []
    n = len(prompts)
    per_prompt = q + rng.normal(0, 1.2, n)  # how much better this answer really is
    draw = rng.random(n)  # one draw for both orders: a flip happens only near the judge's threshold
    tie_prompt = rng.random(n) < 0.12
    for order, model_shown_first in (("AB", True), ("BA", False)):
        logit = per_prompt + (0.3 if model_shown_first else -0.3) + rng.normal(0, 0.4, n)  # position bias
        p_model = 1 / (1 + np.exp(-logit))
        tie = tie_prompt ^ (rng.random(n) < 0.05)
        invalid = rng.random(n) < 0.01
        for i, p in enumerate(prompts):
            model_wins = draw[i] < p_model[i]
            verdict = "tie" if tie[i] else ("A" if model_wins == model_shown_first else "B")
            raw = (
                f"Answer {verdict} is more complete and accurate.\nAnswer {verdict} is significantly better."
                if verdict != "tie"
                else "Both are fine.\nNeither is significantly better."
            )
            out.append(
                _judgment(
                    "pairwise",
                    PAIRWISE_JUDGE,
                    p.hash,
                    model_gen[p.hash],
                    base_gen[p.hash],
                    order,
                    "I cannot decide." if invalid[i] else raw,
                    None if invalid[i] else verdict,
                    valid=not invalid[i],
                )
            )
    return out


def populate(
    store: Store,
    runs: int = 10,
    epochs: int = 10,
    prompts: int = 805,
    seed: int = 0,
    with_decisions: bool = True,
    bulk: bool = False,
) -> Populated:
    rng = np.random.default_rng(seed)
    writer = _Writer(store, bulk)
    prompt_list = [
        Prompt(f"p{i}", ({"role": "user", "content": f"Question {i}: {_text(rng, 12)}?"},), dataset="bench")
        for i in range(prompts)
    ]
    prompt_set = PromptSet("bench", tuple(prompt_list), "bench")
    store.save_prompt_set(prompt_set)

    names: dict[str, int] = {}
    for name in BASELINES:
        names[name] = store.register_model(ModelInfo(name, content_hash(["baseline", name])))
        _generations(writer, names[name], prompt_list, rng, 120)
    checkpoints: list[str] = []
    for run in range(runs):
        for epoch in range(1, epochs + 1):
            name = f"run-{run}/epoch-{epoch}"
            names[name] = store.register_model(
                ModelInfo(name, content_hash(["ckpt", run, epoch]), f"ckpt/run-{run}/epoch-{epoch}", epoch, f"run-{run}")
            )
            _generations(writer, names[name], prompt_list, rng, 80 + 6 * epoch)
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
            judgments.append(
                _judgment("likert", LIKERT_JUDGE, p.hash, m, None, None, f"Score: {int(scores[i])}", score=float(scores[i]))
            )
            judgments.append(
                _judgment(
                    "alpaca_eval",
                    ALPACA_JUDGE,
                    p.hash,
                    m,
                    gens[BASELINES[0]][p.hash],
                    "AB" if i % 2 else "BA",
                    "m" if alpaca[i] > 1.5 else "M",
                    score=float(alpaca[i]),
                )
            )
        writer.judgments(judgments)

    if with_decisions:
        _decide(store, runs, epochs, names)
    return Populated("bench", checkpoints, list(BASELINES), gens)


def _decide(store: Store, runs: int, epochs: int, names: dict[str, int]) -> None:
    """Each run's pick by the real policy (evalkit.decision.policy) over epochs 5-10, stored the way
    `evalkit pick` stores it."""
    import pandas as pd

    from evalkit.decision.policy import POLICY, choose
    from evalkit.results.tables import likert_table, pairwise_table

    pairwise = pairwise_table(store)
    pairwise = pairwise[pairwise["baseline"] == BASELINES[0]]
    likert = likert_table(store)
    for run in range(runs):
        window = [e for e in range(5, 11) if e <= epochs]
        if not window:
            continue
        checkpoints = pd.DataFrame(
            {"model_id": [names[f"run-{run}/epoch-{e}"] for e in window], "name": [f"epoch-{e}" for e in window], "epoch": window}
        )
        decision = choose(pairwise, likert, checkpoints, n_resamples=2000)
        evidence = {k: v for k, v in decision.items() if k not in ("chosen", "epoch", "policy")}
        evidence.update(judge="pairwise", baseline=BASELINES[0], prompt_set="bench", window=[5, 10])
        store.add_decision(
            Decision(f"run-{run}", decision["chosen"], decision["epoch"], POLICY, _json_safe(evidence)), decision["model_id"]
        )


def _json_safe(value: object) -> object:
    from evalkit.files.jsonio import json_safe

    return json_safe(value)


def simulate_annotators(
    store: Store, model: str, baseline: str, items: int, annotators: tuple[str, ...] = ("ann", "bob", "cat"), seed: int = 0
) -> int:
    """A batch of `items` prompts labelled by every annotator: each copies the stored pairwise judge's
    combined verdict 75% of the time and otherwise picks at random, so agreement is high but not perfect."""
    from evalkit.results.tables import pairwise_table
    from evalkit.store import annotations

    rng = np.random.default_rng(seed)
    model_id, baseline_id = store.model_id(model), store.model_id(baseline)
    batch, _ = annotations.create_batch(
        store, f"{model}-vs-{baseline}", model_id, baseline_id, "bench", per_item=len(annotators), limit=items
    )
    judged = pairwise_table(store)
    judged = judged[(judged["model_id"] == model_id) & (judged["baseline_id"] == baseline_id)]
    outcome = dict(zip(judged["prompt_hash"], judged["outcome"]))
    shown = {("AB", "win"): "A", ("AB", "loss"): "B", ("BA", "win"): "B", ("BA", "loss"): "A"}
    rows = store.frame(
        select(t.annotation_items.c.id, t.annotation_items.c.prompt_hash, t.annotation_items.c.order).where(
            t.annotation_items.c.batch_id == batch
        )
    )
    for annotator in annotators:
        for item in rows.itertuples():
            label = shown.get((item.order, outcome.get(item.prompt_hash)), "tie")
            if rng.random() > 0.75:
                label = str(rng.choice(["A", "B", "tie"]))
            annotations.add_label(store, annotator, int(item.id), label, source="bench:simulated")
    return batch


def add_scale_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scale", choices=sorted(SCALES), default="1x", help="1x: 100 checkpoints x 805 prompts; 10x: 1,000 x 833"
    )
    parser.add_argument("--runs", type=int, help="overrides --scale")
    parser.add_argument("--epochs", type=int, help="overrides --scale")
    parser.add_argument("--prompts", type=int, help="overrides --scale")


def shape(args: argparse.Namespace) -> tuple[int, int, int]:
    """(runs, epochs, prompts): --scale's, each overridden where given."""
    runs, epochs, prompts = SCALES[args.scale]
    return args.runs or runs, args.epochs or epochs, args.prompts or prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    add_scale_options(parser)
    parser.add_argument("--annotated", type=int, default=100, help="items in a 3-annotator batch (0: none)")
    args = parser.parse_args()
    start = time.perf_counter()
    store = Store(args.db)
    runs, epochs, prompts = shape(args)
    data = populate(store, runs, epochs, prompts, bulk=args.scale == "10x")
    if args.annotated:
        simulate_annotators(store, data.checkpoints[min(6, len(data.checkpoints) - 1)], data.baselines[0], args.annotated)
    tables = {"models": t.models, "generations": t.generations, "judgments": t.judgments}
    with store.engine.connect() as conn:
        counts = {name: conn.execute(select(func.count()).select_from(table)).scalar_one() for name, table in tables.items()}
    print(f"populated {args.db} in {time.perf_counter() - start:.1f}s: {counts}")


if __name__ == "__main__":
    main()
