"""The reference judge's ROUGE-1 F1 against rouge-score's own scorer (`RougeScorer(["rouge1"],
use_stemmer=False)`): equal to the bit on random texts (punctuation, case, digits, repeated words,
empty and non-ASCII) and on the dev prompts' reference answers scored against each other, and no nltk
imported by the judge."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from evalkit.data import load_prompt_set
from judges.reference import rouge1_fmeasure

SCORER = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False)
WORDS = st.sampled_from(["the", "The", "cat", "cats", "sat", "on", "mat", "42", "x2", "é", "naïve", "", "don't", "U.S."])
TEXTS = st.lists(st.one_of(WORDS, st.text(max_size=8)), max_size=30).map(
    lambda parts: " ".join(parts) if len(parts) % 2 else ",".join(parts)
)


@settings(max_examples=400, deadline=None)
@given(TEXTS, TEXTS)
def test_equal_to_rouge_score_on_random_texts(target: str, prediction: str) -> None:
    assert rouge1_fmeasure(target, prediction) == SCORER.score(target, prediction)["rouge1"].fmeasure


def test_equal_to_rouge_score_on_real_answers() -> None:
    references = [p.reference or "" for p in load_prompt_set("dev").prompts]
    assert sum(bool(r) for r in references) > 20
    for target, prediction in zip(references, references[1:] + references[:1]):
        for pair in ((target, prediction), (target, target), (target, prediction[: len(prediction) // 3])):
            assert rouge1_fmeasure(*pair) == SCORER.score(*pair)["rouge1"].fmeasure


def test_the_judge_imports_no_nltk() -> None:
    code = "import sys; from judges.registry import make_judge; make_judge('reference'); print('nltk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
