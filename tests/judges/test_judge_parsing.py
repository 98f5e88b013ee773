"""Judge parsing, templates, specs and prices: pure functions, no server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.core.errors import EvalkitError
from evalkit.judges.base import Reply, SlotTexts
from evalkit.judges.likert import parse_likert_reply
from evalkit.judges.pairwise import PairwiseJudge, parse_pairwise_reply
from evalkit.judges.pricing import Budget, PriceTable, load_price_table
from evalkit.judges.registry import make_judge
from evalkit.judges.templates import Template, builtin_template

# Every 10th of AlpacaEval's published alpaca-7b weighted_alpaca_eval_gpt4_turbo annotations (with their logprobs).
ALPACA_SAMPLE = Path(__file__).parents[1] / "fixtures" / "data" / "alpaca_weighted_annotations_sample.json"


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("Answer A is significantly better.", "A"),
        ("answer b is significantly better", "B"),
        ("Neither is significantly better.", "tie"),
        ("Both are fine, but A covers the edge case.\n\nAnswer A is significantly better.", "A"),
        ("**Answer B is significantly better.**", "B"),
        ("- Neither is significantly better.", "tie"),
        ("A", "A"),
        ("B.", "B"),
        ("Neither", "tie"),
        ("(A)", "A"),
        ("", None),
        ("\n\n\n", None),
        ("I like both", None),
        ("C", None),
        ("Answer A is significantly better. Because it is longer.", None),  # must END with the option
        ("- Answer A is significantly better.\n- Answer B is significantly better.\n- Neither is significantly better.", None),
    ],
)
def test_pairwise_parser(reply: str, expected: str | None) -> None:
    assert parse_pairwise_reply(reply) == expected


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("The answer is relevant and detailed.\n5\n5", 5),
        ("Reasoning...\n\n6\n\n6\n", 6),
        ("Step 1 ... step 2 ...\n**3**", 3),
        ("reasoning\n4\n2", None),  # the choice and its repetition disagree
        ("reasoning\n7\n7", None),
        ("reasoning\n0", None),
        ("I would say 5 out of 6", None),
        ("", None),
    ],
)
def test_likert_parser(reply: str, expected: int | None) -> None:
    assert parse_likert_reply(reply) == expected


def test_template_renders_in_one_pass_and_hashes_its_text() -> None:
    template = Template("t", 'Q: {instruction}\nA: {output_a}\nB: {output_b}\nJSON {"keep": 1}')
    text = template.render({"instruction": "q", "output_a": "literal {output_b} here", "output_b": "second"})
    assert text == 'Q: q\nA: literal {output_b} here\nB: second\nJSON {"keep": 1}'
    assert Template("t", "x").hash != Template("t", "x ").hash
    with pytest.raises(EvalkitError, match=r"\{output_b\}"):
        Template("t", "{instruction} {output_a}").require(["instruction", "output_a", "output_b"])


def test_pairwise_messages_follow_the_shown_order() -> None:
    judge = PairwiseJudge("judge")
    texts = SlotTexts("What is 2+2?", "four", "five")
    ab, ba = judge.messages(texts, "AB")[0]["content"], judge.messages(texts, "BA")[0]["content"]
    assert ab.index("four") < ab.index("five") and ba.index("five") < ba.index("four")
    assert "Answer A is significantly better." in ab and "Which answer best satisfies your needs?" in ab
    # the spec hash moves with the template's text
    assert (
        PairwiseJudge("judge", template=Template("x", builtin_template("pairwise_lima.txt").text + " ")).spec_hash
        != judge.spec_hash
    )


def test_custom_spec_judges(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("Rate {instruction} -> {output}. Say GOOD or BAD.")
    (tmp_path / "single.yaml").write_text(
        "name: goodbad\nmode: single\ntemplate: t.txt\nparse: last_line\nchoices: {GOOD: 1, BAD: 0}\n"
    )
    judge = make_judge(str(tmp_path / "single.yaml"), judge_model="m")
    assert judge.kind == "goodbad" and judge.mode == "single"
    assert judge.parse(Reply("thinking...\nGood."), None).score == 1.0
    assert not judge.parse(Reply("GOOD\nthinking"), None).valid
    (tmp_path / "p.txt").write_text("{instruction}\n(a) {output_a}\n(b) {output_b}")
    (tmp_path / "pair.yaml").write_text(
        "name: ab\nmode: pairwise\ntemplate: p.txt\nparse: regex\npattern: 'Winner: \\((a|b|tie)\\)'\n"
        "choices: {a: A, b: B, tie: tie}\n"
    )
    pair = make_judge(str(tmp_path / "pair.yaml"), judge_model="m")
    assert pair.parse(Reply("Winner: (b) ... no wait. Winner: (a)"), "AB").verdict == "A"
    assert not pair.parse(Reply("no winner"), "AB").valid
    (tmp_path / "ends.yaml").write_text("name: e\nmode: pairwise\ntemplate: p.txt\nparse: ends_with\nchoices: {a: A, b: B}\n")
    ends = make_judge(str(tmp_path / "ends.yaml"), judge_model="m")
    assert ends.parse(Reply("I choose b"), "AB").verdict == "B" and not ends.parse(Reply("banana"), "AB").valid
    (tmp_path / "bad.yaml").write_text("name: x\nmode: single\ntemplate: p.txt\nchoices: {GOOD: 1}\n")
    with pytest.raises(EvalkitError, match=r"lacks the placeholder"):
        make_judge(str(tmp_path / "bad.yaml"), judge_model="m")
    for builtin in ("pairwise", "absolute", "reference_likert"):  # every built-in kind, the absolute judge's too
        (tmp_path / "reserved.yaml").write_text(f"name: {builtin}\nmode: single\ntemplate: t.txt\nchoices: {{GOOD: 1}}\n")
        with pytest.raises(EvalkitError, match="built-in"):
            make_judge(str(tmp_path / "reserved.yaml"), judge_model="m")
    with pytest.raises(EvalkitError, match="unknown judge"):
        make_judge("nonsense")


def test_reference_judge_is_rouge1_with_bands() -> None:
    judge = make_judge("reference")
    texts = SlotTexts(
        "Capital of France?", "Paris is the capital of France.", "I do not know.", "The capital of France is Paris."
    )
    rows = judge.judge_pair(texts)
    # Hand-worked ROUGE-1 F1 (lowercased word unigrams): the output shares all 6 words of the 6-word
    # reference -> 100; the baseline shares none of its 4 words -> 0.
    assert [(r.order, r.verdict) for r in rows] == [("AB", "A"), ("BA", "B")]
    assert rows[0].score == pytest.approx(100.0) and "reference-overlap" in judge.label
    band = judge.judge_one(texts)[0]
    assert band.judge_kind == "reference_likert" and band.score == 6 and band.extra["overlap"] == pytest.approx(100.0)
    partial = SlotTexts("q", "the capital is Lyon", None, "The capital of France is Paris.")
    # 3 shared words (the, capital, is): precision 3/4, recall 3/6 -> F1 = 0.6
    assert judge.overlap(partial.output, partial.reference) == pytest.approx(60.0)
    assert judge.judge_one(partial)[0].score == 1 + sum(60.0 >= t for t in (5, 10, 20, 30, 45))


def test_price_table_and_budget(tmp_path: Path) -> None:
    table = PriceTable()
    assert table.price("gpt-4o-mini-2024-07-18") == table.price("gpt-4o-mini") != table.price("gpt-4o")
    assert table.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(12.5)
    assert table.cost("my-local-model", 10, 10) is None
    (tmp_path / "p.yaml").write_text("my-local-model: {input: 1, output: 2}\n")
    assert load_price_table(tmp_path / "p.yaml").cost("my-local-model", 1_000_000, 500_000) == pytest.approx(2.0)
    (tmp_path / "bad.yaml").write_text("my-local-model: 3\n")
    with pytest.raises(EvalkitError, match="input"):
        load_price_table(tmp_path / "bad.yaml")
    with pytest.raises(EvalkitError, match="price"):
        Budget(1.0, table, "unknown-model")
    budget = Budget(0.01, table, "gpt-4o")
    estimate = budget.estimate([{"role": "user", "content": "x" * 1000}], max_tokens=100)
    assert estimate == pytest.approx(((1000 + 8) * 2.5 + 100 * 10) / 1e6)
    assert budget.try_reserve(estimate) and budget.try_reserve(estimate)
    budget.settle(estimate, 0.009)
    assert not budget.try_reserve(estimate) and budget.exhausted


def test_alpaca_judge_reproduces_published_annotations() -> None:
    """Our order switch and logprob arithmetic give AlpacaEval's own published preferences."""
    import pandas as pd
    from alpaca_eval.utils import make_prompts

    judge = make_judge("alpaca_eval")
    annotations = json.loads(ALPACA_SAMPLE.read_text())["rows"]
    for row in annotations:
        (order,) = judge.orders(row["instruction"])
        verdict = judge.parse(Reply(row["text"], tuple((t, lp) for t, lp in row["top_logprobs"])), order)
        assert verdict.score == pytest.approx(float(row["preference"]), abs=1e-6)
    assert {judge.orders(row["instruction"])[0] for row in annotations} == {"AB", "BA"}
    # the prompt is alpaca-eval's own rendering of its template (output_1 = first shown)
    row = annotations[0]
    (order,) = judge.orders(row["instruction"])
    texts = SlotTexts(row["instruction"], row["output_2"], row["output_1"])  # output_2 is the evaluated model
    shown = ("output_2", "output_1") if order == "AB" else ("output_1", "output_2")
    frame = pd.DataFrame([{"instruction": row["instruction"], "output_1": row[shown[0]], "output_2": row[shown[1]]}])
    expected = make_prompts(frame, judge.template.text)[0][0].strip()
    messages = judge.messages(texts, order)
    assert [m["role"] for m in messages] == ["system", "user"] and messages[1]["content"] in expected
    # no logprobs: the text token decides; anything else is invalid
    assert judge.parse(Reply("m"), "AB").score == 2.0 and judge.parse(Reply("M"), "AB").score == 1.0
    assert not judge.parse(Reply("The"), "AB").valid
