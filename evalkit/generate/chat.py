"""Chat rendering: the checkpoint's own chat template, ChatML when it has none."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit.core.chatml import CHATML_TEMPLATE, IM_END


def render(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    template = getattr(tokenizer, "chat_template", None) or CHATML_TEMPLATE
    return tokenizer.apply_chat_template(list(messages), chat_template=template, tokenize=False, add_generation_prompt=True)


def stop_token_ids(tokenizer: Any, generation_config: Any | None = None) -> list[int]:
    """Every id that ends a turn: the tokenizer's eos, the generation config's eos, ChatML's <|im_end|>."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    configured = getattr(generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    return sorted(ids)
