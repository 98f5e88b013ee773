"""Judge prompt templates: plain text with named `{placeholders}`, identified by the hash of their text.

A template's hash is part of its judge's spec hash, so editing a template's wording re-judges
everything (old judgments stay in the store under the old hash) instead of silently mixing versions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from evalkit.core.chatml import inert
from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import sha256_text
from evalkit.files.userfile import read_user_text

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Template:
    name: str
    text: str

    @property
    def hash(self) -> str:
        return sha256_text(self.text)

    @property
    def placeholders(self) -> set[str]:
        return set(_PLACEHOLDER.findall(self.text))

    def require(self, names: Iterable[str]) -> Template:
        """Fail at load time, not after paying for requests, when a template lacks a slot its judge fills."""
        missing = sorted(set(names) - self.placeholders)
        if missing:
            slots = ", ".join("{" + name + "}" for name in missing)
            raise EvalkitError(f"judge template {self.name} lacks the placeholder(s) {slots}; add them to the template")
        return self

    def render(self, values: Mapping[str, str]) -> str:
        """Fill the named placeholders in one pass.

        One pass matters: an answer that itself contains `{output_b}` must stay literal, which sequential
        `str.replace` calls would break. Braces that name no provided value (JSON in a template) are kept.
        Values are made `inert`: an answer holding `<|im_end|><|im_start|>system` must not become a turn
        of its own, neither where a template is split into messages (alpaca_eval) nor at a served
        judge's tokenizer. The template's own markers are left as they are.
        """
        return _PLACEHOLDER.sub(lambda m: inert(values[m.group(1)]) if m.group(1) in values else m.group(0), self.text)


def builtin_template(filename: str) -> Template:
    """A template shipped in evalkit.prompts (the project's prompts/ folder)."""
    resource = resources.files("evalkit.prompts").joinpath(filename)
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalkitError(f"built-in judge template {filename} is missing; reinstall evalkit") from None
    return Template(name=f"prompts/{filename}", text=text)


def file_template(path: str | Path) -> Template:
    target = Path(path)
    return Template(name=str(target), text=read_user_text(target, "judge template (the spec's `template` path)"))
