"""Training data: validation errors with file and line, ChatML rendering, assistant-only masks with the
EOT token, whole-turn trimming, the EOT/pad setup, and packing that leaves the loss unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evalkit.core.errors import EvalkitError
from evalkit.train.collate import PackingCollator, PaddingCollator
from evalkit.train.dialogs import Dialog, data_hash, load_dialogs
from evalkit.train.eot import align_model, prepare_tokenizer
from evalkit.train.render import IGNORE_INDEX, EncodedDialog, encode_dialog, encode_dialogs
from tests.train_support import plain_base_model, write_jsonl

MULTI_TURN = (
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is 1 + 1?"},
    {"role": "assistant", "content": "1 + 1 = 2."},
    {"role": "user", "content": "Give me a list of fruit."},
    {"role": "assistant", "content": "Here is a list:\n- apples\n- bananas"},
)


@pytest.fixture(scope="module")
def chatml(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return tokenizer, prepare_tokenizer(tokenizer, "chatml")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"text": "hi"}', "missing `messages`"),
        ('{"messages": [{"role": "bot", "content": "x"}]}', "role 'bot'"),
        ('{"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "a"}]}', "empty content"),
        ('{"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "a"}]}', "'assistant' was expected"),
        ('{"messages": [{"role": "user", "content": "q"}, {"role": "system", "content": "s"}]}', "only the first message"),
        ('{"messages": [{"role": "user", "content": "q"}]}', "must end with an assistant turn"),
        ('{"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "a"}]}', "string `content`"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    good = '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'
    path = tmp_path / "train.jsonl"
    path.write_text(f"{good}\n\n{line}\n", encoding="utf-8")
    with pytest.raises(EvalkitError) as error:
        load_dialogs(path)
    assert f"{path}: 1 bad line of 2: line 3:" in str(error.value) and expected in str(error.value)


def test_every_bad_line_is_reported_up_to_twenty_then_the_count(tmp_path: Path) -> None:
    good = '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([good] + ["not json"] * 25 + [good]) + "\n", encoding="utf-8")
    with pytest.raises(EvalkitError) as error:
        load_dialogs(path)
    message = str(error.value)
    assert message.startswith(f"{path}: 25 bad lines of 27: line 2: not valid JSON")
    assert "line 21:" in message and "line 22:" not in message and message.endswith("(5 more)")
    assert "\n" not in message


def test_lima_conversations_format_and_data_hash(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "lima.jsonl", [{"conversations": ["q1", "a1", "q2", "a2"], "source": "stackexchange"}])
    dialogs = load_dialogs(path)
    assert [m["role"] for m in dialogs[0].messages] == ["user", "assistant", "user", "assistant"]
    same = load_dialogs(write_jsonl(tmp_path / "other.jsonl", [{"messages": list(dialogs[0].messages)}]))
    assert data_hash(dialogs) == data_hash(same)
    with pytest.raises(EvalkitError, match="no dialogs"):
        load_dialogs(write_jsonl(tmp_path / "empty.jsonl", []))


def test_trained_tokens_decode_to_exactly_the_assistant_turns_with_eot(chatml) -> None:
    tokenizer, setup = chatml
    encoded = encode_dialog(tokenizer, Dialog(MULTI_TURN, "x:1"), setup.eot_token, 2048)
    assert isinstance(encoded, EncodedDialog)
    assert tokenizer.decode(encoded.input_ids) == tokenizer.apply_chat_template(list(MULTI_TURN), tokenize=False)
    # Split the trained positions into contiguous runs: one per assistant turn, each ending in the EOT.
    runs: list[list[int]] = []
    previous = IGNORE_INDEX
    for token, label in zip(encoded.input_ids, encoded.labels):
        if label != IGNORE_INDEX:
            assert label == token
            if previous == IGNORE_INDEX:
                runs.append([])
            runs[-1].append(token)
        previous = label
    assistant = [m["content"] for m in MULTI_TURN if m["role"] == "assistant"]
    assert [tokenizer.decode(run) for run in runs] == [text + "<|im_end|>" for text in assistant]
    assert all(run[-1] == setup.eot_id for run in runs)


def test_trimming_keeps_whole_turns_and_reports_untrainable_dialogs(chatml) -> None:
    tokenizer, setup = chatml
    full = encode_dialog(tokenizer, Dialog(MULTI_TURN, "x:1"), setup.eot_token, 2048)
    first_three = tokenizer.apply_chat_template(list(MULTI_TURN[:3]), tokenize=False)
    first_length = len(tokenizer(first_three, add_special_tokens=False)["input_ids"])
    trimmed = encode_dialog(tokenizer, Dialog(MULTI_TURN, "x:1"), setup.eot_token, len(full.input_ids) - 1)
    assert tokenizer.decode(trimmed.input_ids) == first_three and len(trimmed.input_ids) == first_length
    trained = [t for t, label in zip(trimmed.input_ids, trimmed.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(trained) == "1 + 1 = 2.<|im_end|>"
    encoded, skipped = encode_dialogs(
        tokenizer, [Dialog(MULTI_TURN, "x:1"), Dialog(MULTI_TURN, "x:2")], setup.eot_token, first_length - 1
    )
    assert encoded == [] and [s.source for s in skipped] == ["x:1", "x:2"] and "max_length" in skipped[0].reason


def test_special_token_text_in_content_is_rejected(chatml) -> None:
    tokenizer, setup = chatml
    dialog = Dialog(({"role": "user", "content": "hi<|im_end|>"}, {"role": "assistant", "content": "a"}), "f.jsonl:7")
    with pytest.raises(EvalkitError, match=r"f.jsonl:7: message 1 contains the special token"):
        encode_dialog(tokenizer, dialog, setup.eot_token, 2048)


def test_eot_and_pad_added_to_a_plain_base_model(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = plain_base_model(tmp_path / "plain")
    tokenizer, model = AutoTokenizer.from_pretrained(base), AutoModelForCausalLM.from_pretrained(base)
    rows_before = model.get_input_embeddings().weight.shape[0]
    setup = prepare_tokenizer(tokenizer, "chatml")
    assert set(setup.added_tokens) == {"<|im_start|>", "<|im_end|>", "<|pad|>"}
    assert align_model(model, tokenizer, setup)
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer) == rows_before + 3
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|pad|>" and setup.pad_id != setup.eot_id
    assert model.config.eos_token_id == setup.eot_id == model.generation_config.eos_token_id
    assert len(tokenizer.encode("<|im_end|>", add_special_tokens=False)) == 1


def test_template_mode_detects_the_eot_of_the_tokenizers_template(chatml) -> None:
    tokenizer, _ = chatml
    assert prepare_tokenizer(tokenizer, "template").eot_token == "<|im_end|>"
    with pytest.raises(EvalkitError, match="chat_format"):
        prepare_tokenizer(tokenizer, "alpaca")


def test_packing_gives_the_same_loss_as_padding(tiny_model_dir: Path, chatml) -> None:
    from transformers import AutoModelForCausalLM

    tokenizer, setup = chatml
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    dialogs = [Dialog(MULTI_TURN, "a"), Dialog(MULTI_TURN[1:3], "b"), Dialog(MULTI_TURN[3:], "c")]
    encoded, _ = encode_dialogs(tokenizer, dialogs, setup.eot_token, 2048)
    examples = [{"input_ids": e.input_ids, "labels": e.labels} for e in encoded]
    packed = PackingCollator(setup.pad_id, row_tokens=2048)(examples)
    padded = PaddingCollator(setup.pad_id)(examples)
    assert packed["input_ids"].shape[0] == 1 and (packed["input_ids"] != setup.pad_id).sum() == sum(
        len(e.input_ids) for e in encoded
    )
    with torch.no_grad():
        # As in training: with a KV cache transformers would ignore the packed position ids.
        loss_packed = model(**packed, use_cache=False).loss
        loss_padded = model(**padded, use_cache=False).loss
    assert torch.allclose(loss_packed, loss_padded, atol=1e-5), (loss_packed, loss_padded)
    # Rows split when a row is full, and the pad tail never carries a label.
    split = PackingCollator(setup.pad_id)(examples)  # default: rows as wide as the longest dialog
    assert (
        split["input_ids"].shape == (2, len(encoded[0].input_ids))
        and (split["labels"][split["input_ids"] == setup.pad_id] == IGNORE_INDEX).all()
    )


def test_demo_dialog_set_is_valid_varied_and_fully_trainable(chatml) -> None:
    from evalkit.train import demo_dialogs_path

    tokenizer, setup = chatml
    dialogs = load_dialogs(demo_dialogs_path())
    assert 150 <= len(dialogs) <= 300
    assert sum(sum(m["role"] == "assistant" for m in d.messages) > 1 for d in dialogs) >= 20  # multi-turn
    assert sum(d.messages[0]["role"] == "system" for d in dialogs) >= 10
    assert len({d.messages[-2]["content"] for d in dialogs}) == len(dialogs)  # no repeated prompt
    encoded, skipped = encode_dialogs(tokenizer, dialogs, setup.eot_token, 2048)
    assert skipped == [] and all(item.trainable_tokens > 0 for item in encoded)
