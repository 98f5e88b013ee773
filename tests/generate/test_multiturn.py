"""Multi-turn prompts reach judges whole; single-turn prompts are shown and keyed exactly as before;
what a judge spec hash stands for is stored and readable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evalkit.core.hashing import content_hash
from evalkit.core.records import Prompt
from evalkit.judges.base import SlotTexts
from evalkit.judges.pairing import cache_key
from evalkit.judges.registry import make_judge

CONTEXT = (
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name a prime number."},
    {"role": "assistant", "content": "Seven."},
)


def test_single_turn_requests_and_cache_keys_are_unchanged() -> None:
    judge = make_judge("pairwise", judge_model="gpt-4o")
    texts = SlotTexts("What is 2+2?", "4", "Four.")
    content = judge.messages(texts, "AB")[0]["content"]
    assert content == judge.template.render({"instruction": "What is 2+2?", "output_a": "4", "output_b": "Four."})
    # The key as evalkit wrote it before multi-turn context existed: stored judgments stay valid.
    before = content_hash(["judgment-v1", "pairwise", judge.spec_hash, "gpt-4o", "p1", "4", "Four.", None, "AB", 0])
    assert cache_key(judge, "pairwise", "p1", texts, "AB", 0) == before


@pytest.mark.parametrize("name", ["pairwise", "likert", "alpaca_eval"])
def test_multi_turn_judges_see_the_whole_conversation(name: str) -> None:
    judge = make_judge(name, judge_model="gpt-4o")
    texts = SlotTexts("And another one?", "Eleven.", "Nine.", context=CONTEXT)
    shown = "\n".join(m["content"] for m in judge.messages(texts, "AB" if judge.mode == "pairwise" else None))
    for earlier in ("You are terse.", "Name a prime number.", "Seven.", "And another one?"):
        assert earlier in shown
    assert shown.index("Seven.") < shown.index("And another one?")  # the earlier turns come before the question
    single = SlotTexts("And another one?", "Eleven.", "Nine.")
    assert cache_key(judge, name, "p", texts, "AB", 0) != cache_key(judge, name, "p", single, "AB", 0)


def test_prompt_context_is_everything_before_the_last_user_turn() -> None:
    prompt = Prompt(id="x", messages=(*CONTEXT, {"role": "user", "content": "And another one?"}))
    assert prompt.context == CONTEXT and prompt.instruction == "And another one?"
    assert Prompt(id="y", messages=({"role": "user", "content": "Hi"},)).context == ()


def test_judge_spec_is_stored_and_readable_from_its_hash(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from evalkit.cli.main import main
    from evalkit.core.records import GenerationResult, ModelInfo, PromptSet
    from evalkit.judges.runner import judge_pairs
    from evalkit.store import Store

    db = f"sqlite:///{tmp_path / 's.db'}"
    store = Store(db)
    prompt = Prompt(id="0", messages=({"role": "user", "content": "Say hello."},), reference="Hello there, friend.")
    store.save_prompt_set(PromptSet("p", (prompt,), "test"))
    ids = []
    for name, text in (("model", "Hello there, friend!"), ("base", "No.")):
        ids.append(store.register_model(ModelInfo(name=name, fingerprint=content_hash(name))))
        store.add_generations(ids[-1], None, "import", [GenerationResult(prompt.hash, 0, text)])
    judge = make_judge("reference")
    judge_pairs(store, judge, ids[0], ids[1])
    assert main(["stats", "spec", judge.spec_hash[:10], "--db", db]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert {row["judge_kind"]: row["output"] for row in stored} == {"reference": "verdict", "reference_likert": "score"}
    assert stored[0]["description"]["spec"] == json.loads(json.dumps(judge.spec()))
    llm = make_judge("likert", judge_model="gpt-4o", temperature=0.7).description()
    assert "helpful" in llm["template_text"].lower() and llm["spec"]["temperature"] == 0.7
