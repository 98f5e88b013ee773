"""Tiny causal LMs built from a config and a tokenizer trained on the fly.

Nothing may be downloaded here, so the demo and the tests make their own base model: a byte-level BPE
tokenizer trained on a small corpus and a randomly initialised Llama of a few hundred thousand
parameters, saved as a plain Hugging Face model directory with a ChatML chat template.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.core.chatml import BOS, CHATML_TEMPLATE, IM_END, IM_START, PAD

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast


def train_tokenizer(
    corpus: Iterable[str], vocab_size: int = 512, chat_template: str | None = CHATML_TEMPLATE
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (pad != eos) whose end-of-turn token `<|im_end|>` is its eos."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(list(corpus), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=IM_END,
        pad_token=PAD,
        additional_special_tokens=[IM_START, IM_END],
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def build_tiny_model(
    out_dir: str | Path,
    corpus: Iterable[str],
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    seed: int = 0,
    chat_template: str | None = CHATML_TEMPLATE,
) -> Path:
    """Save a randomly initialised tiny Llama and its tokenizer to `out_dir`; return the path."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus, vocab_size=vocab_size, chat_template=chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


DEFAULT_CORPUS: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "Write a short poem about the sea and the moon.",
    "Explain how photosynthesis works in simple terms.",
    "def add(a, b):\n    return a + b\n",
    "What is the capital of France? The capital of France is Paris.",
    "Give me three tips for sleeping better: keep a schedule, avoid screens, and exercise.",
    "I cannot help with that request, but here is a safer alternative.",
    "Step 1: read the question. Step 2: think. Step 3: answer clearly.",
    "1 + 1 = 2, 2 * 3 = 6, 10 / 2 = 5.",
    "Here is a list:\n- apples\n- bananas\n- cherries\n",
)
