"""ChatML, the chat format evalkit uses when a checkpoint has no template of its own (LIMA's
end-of-turn token is ChatML's `<|im_end|>`). Generation, training and the tiny test models all
read it from here."""

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
IM_START, IM_END, PAD, BOS = "<|im_start|>", "<|im_end|>", "<|pad|>", "<|endoftext|>"
