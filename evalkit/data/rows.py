"""Turn one parsed row (AlpacaEval, chat or plain format) into a Prompt, with errors that say where."""

from __future__ import annotations

from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.core.records import Prompt

ROLES = ("system", "user", "assistant")


def _messages_from_chat(raw: Any, where: str) -> tuple[dict[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise EvalkitError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects")
    messages = []
    for turn, message in enumerate(raw, 1):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise EvalkitError(f"{where}: message {turn} needs 'role' and 'content'")
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise EvalkitError(f"{where}: message {turn} has role {role!r}; use one of {', '.join(ROLES)}")
        if not isinstance(content, str) or not content.strip():
            raise EvalkitError(f"{where}: message {turn} has empty content")
        messages.append({"role": role, "content": content})
    if messages[-1]["role"] != "user":
        raise EvalkitError(f"{where}: the last message must be the user's turn to answer, not {messages[-1]['role']!r}")
    return tuple(messages)


def prompt_from_row(row: Any, index: int, where: str) -> Prompt:
    """Accepts `{"messages": [...]}`, `{"instruction": ...}` (AlpacaEval) or `{"prompt": ...}`.

    For AlpacaEval rows the `output` is kept as the reference answer, since that is what the
    reference-output files (e.g. gpt4_1106_preview) are.
    """
    if not isinstance(row, dict):
        raise EvalkitError(f"{where}: expected a JSON object, got {type(row).__name__}")
    if "messages" in row:
        messages = _messages_from_chat(row["messages"], where)
        reference = row.get("reference")
    elif "instruction" in row or "prompt" in row:
        key = "instruction" if "instruction" in row else "prompt"
        text = row[key]
        if not isinstance(text, str) or not text.strip():
            raise EvalkitError(f"{where}: empty {key!r}")
        messages = ({"role": "user", "content": text},)
        reference = row.get("reference", row.get("output"))
    else:
        raise EvalkitError(f"{where}: missing field: need 'messages', 'instruction' or 'prompt'")
    if reference is not None and not isinstance(reference, str):
        raise EvalkitError(f"{where}: 'reference' must be a string")
    item_id = row.get("id", index)
    dataset = row.get("dataset", row.get("category"))
    return Prompt(id=str(item_id), messages=messages, reference=reference, dataset=None if dataset is None else str(dataset))
