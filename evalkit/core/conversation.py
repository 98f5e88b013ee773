"""How a multi-turn question is shown to a judge or an annotator: the conversation so far, then the
final user turn, in the words of LIMA's annotation interface (Figure 11: "you require help with the
following question"). A single-turn prompt is shown exactly as its one user message, so its judge
requests (and cache keys) are what they were before multi-turn context was added."""

from __future__ import annotations

from collections.abc import Sequence

from evalkit.core.records import Message

ROLE_NAMES = {"system": "System", "user": "User", "assistant": "Assistant"}
CONTEXT_HEADER = "The conversation so far:"
QUESTION_HEADER = "The user's latest message, which the answers reply to:"


def render_question(instruction: str, context: Sequence[Message]) -> str:
    """The text that fills a judge template's question slot."""
    if not context:
        return instruction
    turns = "\n\n".join(f"{ROLE_NAMES.get(m['role'], m['role'].title())}: {m['content']}" for m in context)
    return f"{CONTEXT_HEADER}\n\n{turns}\n\n{QUESTION_HEADER}\n\n{instruction}"
