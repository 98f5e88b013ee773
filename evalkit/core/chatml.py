"""ChatML, the chat format evalkit uses when a checkpoint has no template of its own (LIMA's
end-of-turn token is ChatML's `<|im_end|>`). Generation, training and the tiny test models all
read it from here. `inert` keeps user text (answers shown to a judge) from opening a chat turn."""

import re

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
IM_START, IM_END, PAD, BOS = "<|im_start|>", "<|im_end|>", "<|pad|>", "<|endoftext|>"

# Chat-template control strings that start or end a turn: ChatML and the `<|...|>` family (Llama 3,
# Phi), Gemma's turn markers, Llama 2 / Mistral instruction and system markers.
_TURN_MARKUP = re.compile(r"<\|[A-Za-z0-9_\-]{1,40}\|>|</?(?:start|end)_of_turn>|\[/?INST\]|<</?SYS>>")
ZERO_WIDTH_SPACE = "\u200b"


def inert(text: str) -> str:
    """Text that reads the same but cannot open or close a chat turn: a zero-width space after each
    marker's first character, so neither a ChatML parser (alpaca_eval's prompt_to_chatml) nor a
    tokenizer (a served judge's chat template) sees the marker. Text without markers is unchanged."""
    return _TURN_MARKUP.sub(lambda m: m[0][0] + ZERO_WIDTH_SPACE + m[0][1:], text)


def has_turn_markup(text: str | None) -> bool:
    return bool(text) and _TURN_MARKUP.search(text or "") is not None
