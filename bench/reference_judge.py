"""The offline reference judge's ROUGE-1 F1: rouge-score's scorer against evalkit's (rouge-score's own
tokenizer, unigram counts; judges/reference.py), each in a fresh process, as every judging process pays it.

Each variant imports what it needs and scores every pair of the dev prompts' reference answers (50 x 50:
2,500 pairs, about what the demo's evaluation scores); the two alternate, run after run; medians. The scores are checked equal. rouge-score's scorer module imports all of nltk for a
Porter stemmer the judge does not use; that import is most of its cost.

    .venv/bin/python bench/reference_judge.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

VARIANTS = {
    "rouge-score's scorer": (
        "from rouge_score import rouge_scorer\n"
        "scorer = rouge_scorer.RougeScorer(['rouge1'], use_stemmer=False)\n"
        "score = lambda target, prediction: scorer.score(target, prediction)['rouge1'].fmeasure\n"
    ),
    "evalkit's": "from judges.reference import rouge1_fmeasure as score\n",
}
TIMED = (
    "import json, sys, time\n"
    "began = time.perf_counter()\n"
    "{setup}"
    "imported = time.perf_counter()\n"
    "texts = json.loads(sys.stdin.read())\n"
    "scores = [score(t, p) for t in texts for p in texts]\n"
    "done = time.perf_counter()\n"
    "print(json.dumps({{'import': imported - began, 'score': done - imported, 'sum': sum(scores)}}))\n"
)


def run(setup: str, texts: list[str]) -> dict[str, float]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", TIMED.format(setup=setup)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    ).stdout
    return dict(json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from evalkit.data import load_prompt_set

    texts = [p.reference or "" for p in load_prompt_set("dev").prompts]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
        for name, setup in VARIANTS.items():
            runs[name].append(run(setup, texts))
    print(f"load average={os.getloadavg()[0]:.1f}; {len(texts) ** 2} pairs; medians of {args.repeats} fresh processes")
    totals = {}
    for name, measured in runs.items():
        imported = statistics.median(m["import"] for m in measured)
        scored = statistics.median(m["score"] for m in measured)
        totals[name] = statistics.median(m["import"] + m["score"] for m in measured)
        print(f"  {name:22s} import {imported:.3f} s, scoring {scored:.3f} s, together {totals[name]:.3f} s")
    library, ours = totals["rouge-score's scorer"], totals["evalkit's"]
    same = len({m["sum"] for measured in runs.values() for m in measured}) == 1
    print(f"  evalkit's / rouge-score's: {library / ours:.1f}x faster; same scores: {same}")


if __name__ == "__main__":
    main()
