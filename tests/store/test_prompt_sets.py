from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.core.errors import EvalkitError
from evalkit.data import load_prompt_set
from evalkit.data.alpaca import import_model_outputs, read_model_outputs

ALPACA_SET = Path(__file__).resolve().parents[3] / "shared" / "data" / "alpaca_eval" / "gpt4_1106_preview.model_outputs.json"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_builtin_dev_set_is_diverse_and_complete() -> None:
    dev = load_prompt_set("dev")
    assert len(dev.prompts) == 50
    assert all(p.reference and p.reference.strip() for p in dev.prompts)
    assert len({p.dataset for p in dev.prompts}) >= 6  # categories
    assert any(len(p.messages) > 1 for p in dev.prompts)  # some multi-turn


@pytest.mark.skipif(not ALPACA_SET.exists(), reason="shared AlpacaEval data not present")
def test_alpaca_eval_805_set_loads_with_references() -> None:
    prompt_set = load_prompt_set(str(ALPACA_SET))
    assert len(prompt_set.prompts) == 805
    assert all(p.reference for p in prompt_set.prompts)
    assert prompt_set.prompts[0].dataset == "helpful_base"


def test_chat_and_plain_formats(tmp_path: Path) -> None:
    chat = _write(
        tmp_path / "c.jsonl",
        [
            json.dumps(
                {
                    "id": "x",
                    "messages": [
                        {"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "Hi"},
                        {"role": "assistant", "content": "Hello"},
                        {"role": "user", "content": "Bye?"},
                    ],
                }
            )
        ],
    )
    prompt = load_prompt_set(str(chat)).prompts[0]
    assert prompt.instruction == "Bye?" and len(prompt.messages) == 4
    plain = _write(tmp_path / "p.jsonl", [json.dumps({"id": 1, "prompt": "Q"})])
    assert load_prompt_set(str(plain)).prompts[0].id == "1"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "a", "prompt": "x"}', "{not json"], "jsonl:2: bad JSON"),
        (['{"id": "a"}'], "jsonl:1: missing field"),
        (['{"id": "a", "prompt": "   "}'], "jsonl:1: empty 'prompt'"),
        (['{"id": "a", "prompt": "x"}', '{"id": "a", "prompt": "y"}'], "jsonl:2: duplicate id 'a' \\(first at .*jsonl:1\\)"),
        (
            ['{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'],
            "last message must be the user",
        ),
        (['{"messages": [{"role": "robot", "content": "q"}]}'], "role 'robot'"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = _write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(EvalkitError, match=message) as info:
        load_prompt_set(str(path))
    assert str(path) in str(info.value)


def test_missing_file_and_offline_hub_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EvalkitError, match="prompt file .*nope.jsonl not found"):
        load_prompt_set(str(tmp_path / "nope.jsonl"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(EvalkitError, match="hub is unreachable and it is not in the local cache"):
        load_prompt_set("hf:no-such-org/no-such-set")


def test_import_model_outputs_round_trip(tmp_path: Path, store) -> None:
    path = tmp_path / "m.json"
    path.write_text(
        json.dumps([{"instruction": "a", "output": "x", "generator": "g"}, {"instruction": "b", "output": "y", "generator": "g"}])
    )
    model_id, prompt_set = import_model_outputs(store, path)
    again, _ = import_model_outputs(store, path)
    assert again == model_id
    frame = store.generations(model_id)
    assert sorted(frame["text"]) == ["x", "y"] and len(prompt_set.prompts) == 2
    assert store.models().loc[0, "name"] == "g"
    path.write_text(json.dumps([{"instruction": "a"}]))
    with pytest.raises(EvalkitError, match="missing field 'output'"):
        read_model_outputs(path)
