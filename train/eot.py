"""The end-of-turn token (LIMA's EOT) and the pad token, made consistent across tokenizer, model and template.

LIMA adds a dedicated end-of-turn token so that halting generation never depends on whatever meaning the
pretrained EOS carries. Here the EOT is ChatML's `<|im_end|>` (or the token that ends an assistant turn
in the base tokenizer's own chat template); it is added when missing, the embeddings are resized, and it
is saved as the checkpoint's eos so every generator stops on it. Padding gets its own token: a pad equal
to eos would be masked out of the loss and the model would never learn to stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalkit.core.chatml import CHATML_TEMPLATE, IM_END, IM_START, PAD
from evalkit.core.errors import EvalkitError

CHAT_FORMATS = ("chatml", "template")
_PROBE_USER, _PROBE_ASSISTANT = "evalkit probe question", "evalkit probe answer"


@dataclass(frozen=True)
class TokenSetup:
    """What preparing the tokenizer decided: the EOT string and id, and the tokens it had to add."""

    eot_token: str
    eot_id: int
    pad_id: int
    added_tokens: tuple[str, ...]


def prepare_tokenizer(tokenizer: Any, chat_format: str, eot_token: str | None = None) -> TokenSetup:
    """Give the tokenizer a chat template, a single-token EOT used as eos, and a pad token distinct from it."""
    if chat_format not in CHAT_FORMATS:
        raise EvalkitError(f"chat_format {chat_format!r} is not supported; use one of {', '.join(CHAT_FORMATS)}")
    added: list[str] = []
    if chat_format == "chatml":
        if eot_token not in (None, IM_END):
            raise EvalkitError(f"chat_format chatml ends turns with {IM_END}; eot_token {eot_token!r} needs chat_format=template")
        eot = IM_END
        added += _add_missing_special(tokenizer, [IM_START, IM_END])
        tokenizer.chat_template = CHATML_TEMPLATE
    else:
        if not getattr(tokenizer, "chat_template", None):
            raise EvalkitError("the base tokenizer has no chat template; use chat_format=chatml")
        eot = eot_token or detect_eot(tokenizer)
        added += _add_missing_special(tokenizer, [eot])
    if tokenizer.pad_token is None or tokenizer.pad_token == eot:
        if PAD not in tokenizer.get_vocab():
            added.append(PAD)
        tokenizer.add_special_tokens({"pad_token": PAD})
    tokenizer.eos_token = eot
    eot_id = tokenizer.convert_tokens_to_ids(eot)
    if tokenizer.pad_token_id == eot_id:
        raise EvalkitError(f"pad token {tokenizer.pad_token!r} equals the end-of-turn token; set a distinct pad token")
    return TokenSetup(eot, int(eot_id), int(tokenizer.pad_token_id), tuple(added))


def _add_missing_special(tokenizer: Any, tokens: list[str]) -> list[str]:
    """Add tokens that do not encode to exactly one id, as special tokens that are never split."""
    missing = [token for token in dict.fromkeys(tokens) if not _is_single_token(tokenizer, token)]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    for token in tokens:
        if not _is_single_token(tokenizer, token):
            raise EvalkitError(f"the tokenizer cannot encode {token!r} as one token; choose another eot_token")
    return missing


def _is_single_token(tokenizer: Any, token: str) -> bool:
    return len(tokenizer.encode(token, add_special_tokens=False)) == 1


def detect_eot(tokenizer: Any) -> str:
    """The special token the chat template puts right after an assistant message (e.g. `<|eot_id|>`)."""
    probe = [{"role": "user", "content": _PROBE_USER}, {"role": "assistant", "content": _PROBE_ASSISTANT}]
    text = tokenizer.apply_chat_template(probe, tokenize=False)
    end = text.find(_PROBE_ASSISTANT)
    if end < 0:
        raise EvalkitError("the chat template does not render assistant messages verbatim; use chat_format=chatml")
    following = text[end + len(_PROBE_ASSISTANT) :]
    special = sorted((str(t) for t in tokenizer.all_special_tokens), key=len, reverse=True)
    for token in special:
        if following.lstrip(" ").startswith(token):
            return token
    raise EvalkitError(
        "cannot tell which token ends an assistant turn in the chat template; set eot_token or use chat_format=chatml"
    )


def align_model(model: Any, tokenizer: Any, setup: TokenSetup) -> bool:
    """Resize embeddings for added tokens and make eos/pad of config and generation config match the tokenizer.

    Returns whether the embeddings were resized. New rows start at the mean of the old ones (transformers'
    `mean_resizing`), so the EOT begins as an ordinary token rather than a random outlier.
    """
    resized = False
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
        resized = True
    model.config.eos_token_id = setup.eot_id
    model.config.pad_token_id = setup.pad_id
    generation = getattr(model, "generation_config", None)
    if generation is not None:
        generation.eos_token_id = setup.eot_id
        generation.pad_token_id = setup.pad_id
    return resized
