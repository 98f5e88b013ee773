from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams, GenerationRequest
from evalkit.data import load_prompt_set
from evalkit.generate.checkpoint import find_checkpoints, fingerprint, validate_checkpoint
from evalkit.generate.transformers_backend import TransformersGenerator
from tests.helpers import run_cli, write_prompts


def _requests(path: Path, count: int) -> list[GenerationRequest]:
    prompt_set = load_prompt_set(str(write_prompts(path, count)))
    return [GenerationRequest(p, 0) for p in prompt_set.prompts]


def _force_next_token(generator: TransformersGenerator, token_id: int) -> None:
    """Replace the output layer so greedy decoding always picks `token_id`."""
    import torch

    head = torch.nn.Linear(generator.model.config.hidden_size, generator.model.config.vocab_size, bias=True)
    torch.nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.bias.zero_()
        head.bias[token_id] = 10.0
    generator.model.lm_head = head


def test_generation_stops_at_end_of_turn(tiny_model_dir: Path, tmp_path: Path) -> None:
    generator = TransformersGenerator(tiny_model_dir, batch_size=4)
    _force_next_token(generator, generator.tokenizer.convert_tokens_to_ids("<|im_end|>"))
    results = [
        r
        for batch in generator.generate(_requests(tmp_path / "p.jsonl", 5), DecodingParams(greedy=True, max_new_tokens=20))
        for r in batch
    ]
    assert {r.finish_reason for r in results} == {"stop"}
    assert all(r.text == "" and r.completion_tokens == 1 for r in results)


def test_generation_runs_to_the_length_limit_without_end_of_turn(tiny_model_dir: Path, tmp_path: Path) -> None:
    generator = TransformersGenerator(tiny_model_dir, batch_size=4)
    token = generator.tokenizer.encode("sea", add_special_tokens=False)[0]
    _force_next_token(generator, token)
    expected = generator.tokenizer.decode([token] * 6).strip()
    results = [
        r
        for batch in generator.generate(_requests(tmp_path / "p.jsonl", 3), DecodingParams(greedy=True, max_new_tokens=6))
        for r in batch
    ]
    assert all(r.finish_reason == "length" and r.completion_tokens == 6 and r.text == expected for r in results)
    assert expected


@pytest.mark.slow  # two generators over 6 prompts
def test_batched_left_padded_greedy_matches_one_at_a_time(tiny_model_dir: Path, tmp_path: Path) -> None:
    requests = _requests(tmp_path / "p.jsonl", 6)
    decoding = DecodingParams(greedy=True, max_new_tokens=12)
    batched = TransformersGenerator(tiny_model_dir, batch_size=6)
    single = TransformersGenerator(tiny_model_dir, batch_size=1)
    texts = lambda g: {r.prompt_hash: r.text for b in g.generate(requests, decoding) for r in b}  # noqa: E731
    assert texts(batched) == texts(single)


@pytest.mark.slow  # child processes: a run and its rerun
def test_cli_contract_and_rerun_skips_everything(tiny_model_dir: Path, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "prompts.jsonl", 5)
    out, db = tmp_path / "out.json", f"sqlite:///{tmp_path / 'x.db'}"
    args = [
        "generate",
        "--checkpoint",
        str(tiny_model_dir),
        "--prompts",
        str(prompts),
        "--backend",
        "transformers",
        "--greedy",
        "--max-new-tokens",
        "8",
        "--db",
        db,
        "--out",
        str(out),
    ]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    rows = json.loads(out.read_text())
    assert len(rows) == 5 and all(set(r) >= {"instruction", "output", "generator"} for r in rows)
    assert rows[0]["instruction"].startswith("Question 0")
    second = run_cli(*args)
    assert second.returncode == 0 and "0 generated, 5 already stored" in second.stdout
    assert json.loads(out.read_text()) == rows


def test_training_output_directory_and_epoch_selection(tiny_model_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "ckpt"
    for epoch in (1, 2, 3):
        shutil.copytree(tiny_model_dir, run / f"epoch-{epoch}")
    found = find_checkpoints(run, [2, 3, 7])
    assert [c.epoch for c in found] == [2, 3] and found[0].name == "ckpt/epoch-2"
    with pytest.raises(EvalkitError, match="none of epochs"):
        find_checkpoints(run, [9])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvalkitError, match="neither a model directory"):
        find_checkpoints(tmp_path / "empty")


def test_fingerprint_follows_weights_and_chat_template(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_model_dir, tmp_path / "m")
    assert fingerprint(copy) == fingerprint(tiny_model_dir)
    config = json.loads((copy / "tokenizer_config.json").read_text())
    template = copy / "chat_template.jinja"
    if template.exists():
        template.write_text(template.read_text() + " ")
    else:
        config["chat_template"] = config.get("chat_template", "") + " "
        (copy / "tokenizer_config.json").write_text(json.dumps(config))
    assert fingerprint(copy) != fingerprint(tiny_model_dir)


@pytest.mark.slow  # a child process per breakage
@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("config.json", "no config.json"),
        ("tokenizer.json", "no tokenizer"),
        ("truncate", "corrupt weights file model.safetensors"),
    ],
)
def test_broken_checkpoint_is_one_clear_line(tiny_model_dir: Path, tmp_path: Path, breakage: str, message: str) -> None:
    broken = shutil.copytree(tiny_model_dir, tmp_path / "broken")
    if breakage == "truncate":
        weights = broken / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    else:
        (broken / breakage).unlink()
    with pytest.raises(EvalkitError, match=message):
        validate_checkpoint(broken)
    result = run_cli(
        "generate",
        "--checkpoint",
        str(broken),
        "--prompts",
        str(write_prompts(tmp_path / "p.jsonl", 2)),
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
