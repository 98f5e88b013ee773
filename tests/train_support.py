"""Helpers shared by the tests/test_train_*.py files: small dialog sets and a base model without ChatML tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

QUESTIONS = (
    "What is the capital of France?",
    "Which city is the capital of France?",
    "Name the capital of France.",
    "Tell me the capital of France.",
    "France has which capital?",
    "Where is the French capital?",
)
ANSWER = "The capital of France is Paris."


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def france_dialogs(count: int) -> list[dict[str, Any]]:
    """Dialogs a tiny model learns in a few epochs, some multi-turn and some with a system turn."""
    rows = []
    for index in range(count):
        messages = [{"role": "user", "content": QUESTIONS[index % len(QUESTIONS)]}, {"role": "assistant", "content": ANSWER}]
        if index % 4 == 0:
            messages = [{"role": "system", "content": "Answer in one sentence."}, *messages]
        if index % 5 == 0:
            messages += [{"role": "user", "content": "Say it again."}, {"role": "assistant", "content": ANSWER}]
        rows.append({"messages": messages})
    return rows


def plain_base_model(out_dir: Path) -> Path:
    """A tiny Llama whose tokenizer has no ChatML tokens, no pad token and `</s>` as eos (like a raw base model)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from evalkit.models.tiny import DEFAULT_CORPUS

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    core.train_from_iterator(list(DEFAULT_CORPUS) * 5, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="</s>")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
