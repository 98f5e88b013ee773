"""Dialogs to token ids and loss labels: assistant turns (with their EOT) trained, everything else masked.

The text is rendered with the tokenizer's chat template (ChatML unless the recipe says otherwise), the
same string a generator builds at inference time, and tokenized once. Which tokens are trained is read
off character spans: each assistant turn's span runs from the end of the rendered prompt that precedes it
(the generation prompt) to the end of its end-of-turn token. Long dialogs are cut between turns, never
inside one, so every kept assistant turn still ends in its EOT; a dialog left with no assistant turn is
returned as skipped so the caller can report it.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.train.dialogs import Dialog

IGNORE_INDEX = -100


@dataclass(frozen=True)
class EncodedDialog:
    input_ids: list[int]
    labels: list[int]
    source: str

    @property
    def trainable_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def encode_dialogs(
    tokenizer: Any, dialogs: list[Dialog], eot_token: str, max_length: int
) -> tuple[list[EncodedDialog], list[Skipped]]:
    """Encode every dialog; the ones without a trainable token are returned separately, never trained on."""
    special = [str(token) for token in tokenizer.all_special_tokens]
    encoded: list[EncodedDialog] = []
    skipped: list[Skipped] = []
    for dialog in dialogs:
        result = encode_dialog(tokenizer, dialog, eot_token, max_length, special)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            encoded.append(result)
    return encoded, skipped


def encode_dialog(
    tokenizer: Any, dialog: Dialog, eot_token: str, max_length: int, special_tokens: list[str] | None = None
) -> EncodedDialog | Skipped:
    """Token ids and labels of one dialog, trimmed to `max_length` by whole turns."""
    _reject_special_text(dialog, special_tokens or [str(t) for t in tokenizer.all_special_tokens])
    messages = list(dialog.messages)
    full = _render(tokenizer, messages, dialog.source)
    turn_ends: list[int] = []
    spans: list[tuple[int, int]] = []
    for index, message in enumerate(messages):
        upto = _render(tokenizer, messages[: index + 1], dialog.source)
        if not full.startswith(upto):
            raise EvalkitError(
                f"{dialog.source}: the chat template renders this dialog differently turn by turn; use chat_format=chatml"
            )
        turn_ends.append(len(upto))
        if message["role"] == "assistant":
            prompt = _render(tokenizer, messages[:index], dialog.source, generation_prompt=True)
            eot_at = upto.rfind(eot_token)
            if not upto.startswith(prompt) or eot_at < len(prompt):
                raise EvalkitError(f"{dialog.source}: the chat template does not end assistant turns with {eot_token!r}")
            spans.append((len(prompt), eot_at + len(eot_token)))
    encoding = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(encoding["input_ids"])
    starts = [start for start, _ in encoding["offset_mapping"]]
    ends = [end for _, end in encoding["offset_mapping"]]
    _check_boundaries(starts, ends, [b for span in spans for b in span] + turn_ends, dialog.source)

    keep = 0
    for index, message in enumerate(messages):
        length = _tokens_before(starts, turn_ends[index])
        if length > max_length:
            break
        if message["role"] == "assistant":
            keep = length
    if keep == 0:
        return Skipped(dialog.source, f"no assistant turn fits in max_length {max_length}")
    labels = [IGNORE_INDEX] * keep
    for span_start, span_end in spans:
        first, last = bisect_left(starts, span_start), min(bisect_left(starts, span_end), keep)
        labels[first:last] = ids[first:last]
    return EncodedDialog(ids[:keep], labels, dialog.source)


def _render(tokenizer: Any, messages: list[dict[str, str]], source: str, generation_prompt: bool = False) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)
    except Exception as exc:  # jinja raises TemplateError and plain exceptions from `raise_exception`
        raise EvalkitError(f"{source}: the chat template rejected this dialog ({exc})") from None


def _reject_special_text(dialog: Dialog, special_tokens: list[str]) -> None:
    """A literal `<|im_end|>` inside a message would silently end the turn early; refuse it instead."""
    for number, message in enumerate(dialog.messages, 1):
        for token in special_tokens:
            if token and token in message["content"]:
                raise EvalkitError(f"{dialog.source}: message {number} contains the special token {token!r}; remove it")


def _check_boundaries(starts: list[int], ends: list[int], boundaries: list[int], source: str) -> None:
    """Every turn and span boundary must fall between tokens; a token straddling one would be half-trained."""
    for boundary in set(boundaries):
        index = bisect_left(starts, boundary) - 1  # the last token starting before the boundary
        if index >= 0 and ends[index] > boundary:
            raise EvalkitError(f"{source}: a token crosses a turn boundary in the rendered chat; use chat_format=chatml")


def _tokens_before(starts: list[int], char_position: int) -> int:
    return bisect_left(starts, char_position)
