"""InsTag-style open tags per instruction (the tagging behind Yi's and Qwen's balanced sampling).

Tags come from an LLM (InsTag's open-set tagging: fine-grained intention tags, each with an explanation)
or from a field the file already has (e.g. `category`). Either way they are normalised as InsTag does
before use: lower case, punctuation and separators folded, spelling variants merged by their stem
(shown as the variant seen most), and tags rarer than `min_count` in the whole set dropped as noise.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError
from evalkit.datarecipes.llm import Call, LLMSettings, run_calls
from evalkit.datarecipes.parsing import json_tag_list
from evalkit.datarecipes.rows import Row
from evalkit.judges.templates import builtin_template
from evalkit.store import Store

if TYPE_CHECKING:
    from nltk.stem import PorterStemmer

_SEPARATORS = re.compile(r"[\s_\-/]+")
_PUNCTUATION = re.compile(r"[^\w\s]")


def surface(tag: str) -> str:
    """'Creative_Writing!' -> 'creative writing'."""
    return " ".join(_SEPARATORS.sub(" ", _PUNCTUATION.sub(" ", tag.lower())).split())


@lru_cache(maxsize=1)
def _stemmer() -> PorterStemmer:
    from nltk.stem import PorterStemmer  # nltk comes with rouge-score, the reference judge's dependency

    return PorterStemmer()


@lru_cache(maxsize=65536)
def stem_key(tag: str) -> str:
    """Spelling variants share a key: 'poems' and 'poem' count as one tag."""
    return " ".join(_stemmer().stem(word) for word in surface(tag).split())


def normalise(tag_lists: list[list[str]], min_count: int = 1) -> list[list[str]]:
    """Each row's tags mapped to one canonical form per stem key, rare tags dropped, duplicates removed."""
    keys = [[stem_key(tag) for tag in tags if surface(tag)] for tags in tag_lists]
    forms: dict[str, Counter[str]] = {}
    for tags, row_keys in zip(tag_lists, keys):
        for tag, key in zip([t for t in tags if surface(t)], row_keys):
            forms.setdefault(key, Counter())[surface(tag)] += 1
    canonical = {key: max(counts.items(), key=lambda item: (item[1], -len(item[0]), item[0]))[0] for key, counts in forms.items()}
    frequency = Counter(key for row_keys in keys for key in set(row_keys))
    return [list(dict.fromkeys(canonical[key] for key in row_keys if frequency[key] >= min_count)) for row_keys in keys]


def _parse(text: str, _call: Call) -> list[str] | None:
    return json_tag_list(text)


def tag_rows(
    store: Store | None,
    rows: list[Row],
    *,
    field: str | None,
    settings: LLMSettings | None,
    max_tags: int = 5,
    min_count: int = 1,
) -> tuple[list[Row], dict[str, Any]]:
    """Rows with a normalised `tags` list: from `field` when given, else from the LLM."""
    report: dict[str, Any] = {"rows": len(rows)}
    if field is not None:
        raw = [_field_tags(row.extra.get(field)) for row in rows]
        report["from_field"] = field
    else:
        if store is None or settings is None:
            raise EvalkitError("tagging needs --field NAME or a generator model (--model and an endpoint)")
        template = builtin_template("data_tag.txt").require(["instruction", "max_tags"])
        calls = [Call("tag", template, {"instruction": row.instruction, "max_tags": str(max_tags)}) for row in rows]
        outcomes, calls_report = run_calls(store, calls, _parse, settings, "tag")
        raw = [(outcome.parsed or [])[:max_tags] for outcome in outcomes]
        report |= calls_report.as_dict()
    tags = normalise(raw, min_count)
    report["untagged"] = sum(1 for row_tags in tags if not row_tags)
    report["distinct_tags"] = len({tag for row_tags in tags for tag in row_tags})
    return [row.with_extra(tags=row_tags) for row, row_tags in zip(rows, tags)], report


def _field_tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value if isinstance(item, (str, int, float))]
    return []
