"""The data tools' jobs (`evalkit data expand|lengthen|tag|sample|dedup|stats`): read dialog JSONL, run
one recipe of evalkit.datarecipes, write the result atomically, and say what was done.

The LLM-backed tools (expand, lengthen, tag) take the generator's settings as given on the command line
(`GeneratorRequest`) and check them where the recipe needs them, so errors come in the order they always
have: a bad data file before a missing model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError
from evalkit.files.jsonio import json_safe

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.datarecipes.dedup import Field
    from evalkit.datarecipes.llm import LLMSettings
    from evalkit.datarecipes.rows import Row
    from evalkit.store import Store


@dataclass(frozen=True)
class GeneratorRequest:
    """The generator model of expand / lengthen / tag, as given (model: else EVALKIT_DATA_MODEL)."""

    model: str | None = None
    base_url: str | None = None
    temperature: float = 0.7
    max_tokens: int = 2048
    concurrency: int = 8
    max_cost: float | None = None
    prices: str | None = None
    progress: bool = True
    db: str | None = None  # the store that caches its replies


@dataclass(frozen=True)
class DataToolResult:
    """What a tool did, in the order `evalkit data` prints it (ending with `written` and `out` when it
    wrote a file); `as_dict()` is its `--json` object."""

    report: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.report)


@dataclass(frozen=True)
class DataStats:
    """LIMA Table 1 per source file (`sources`) and the tag distribution (`tags`), lengths in `unit`."""

    unit: str
    sources: pd.DataFrame
    tags: pd.DataFrame

    def as_dict(self) -> dict[str, Any]:

        data: dict[str, Any] = json_safe(
            {"unit": self.unit, "sources": self.sources.to_dict(orient="records"), "tags": self.tags.to_dict(orient="records")}
        )
        return data


def llm_settings(request: GeneratorRequest) -> LLMSettings:
    from evalkit.core.settings import resolve
    from evalkit.datarecipes.llm import LLMSettings

    model = resolve("data_model", request.model, None)
    if not model:
        raise EvalkitError("no generator model: pass --model NAME (or set EVALKIT_DATA_MODEL)")
    if request.concurrency < 1 or request.max_tokens < 1:
        raise EvalkitError("--concurrency and --max-tokens must be at least 1")
    return LLMSettings(
        model=str(model),
        base_url=request.base_url,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        concurrency=request.concurrency,
        max_cost=request.max_cost,
        prices=request.prices,
        progress=request.progress,
    )


def _store(request: GeneratorRequest) -> Store:
    from evalkit.core.settings import db_url
    from evalkit.store import Store

    return Store(db_url(request.db))


def _written(out: Path, rows: list[Row], report: dict[str, Any]) -> DataToolResult:
    from evalkit.datarecipes.rows import write_rows

    report["written"] = write_rows(out, rows)
    report["out"] = str(out)
    return DataToolResult(MappingProxyType(report))


def expand_data(
    data: Path,
    out: Path,
    generator: GeneratorRequest,
    *,
    new_tasks: int | None = None,
    instances: int = 2,
    oneshot_instances: int = 5,
    examples: int = 3,
    seed: int = 0,
) -> DataToolResult:
    """Mini LIMA self-instruct: the seed rows, new instances of seed tasks, and instances of new tasks."""
    from evalkit.datarecipes.expand import ExpandPlan, expand, seed_tasks
    from evalkit.datarecipes.rows import read_rows

    rows = read_rows(data)
    settings = llm_settings(generator)
    tasks = new_tasks if new_tasks is not None else len(seed_tasks(rows))
    plan = ExpandPlan(tasks, instances, oneshot_instances, max(1, examples), seed)
    expanded, report = expand(_store(generator), rows, plan, settings)
    return _written(out, expanded, report)


def lengthen_data(data: Path, out: Path, generator: GeneratorRequest, *, min_words: int = 100) -> DataToolResult:
    """Mini LIMA prompt 4: outputs shorter than `min_words` rewritten longer."""
    from evalkit.datarecipes.lengthen import lengthen
    from evalkit.datarecipes.rows import read_rows

    rows = read_rows(data)
    lengthened, report = lengthen(_store(generator), rows, min_words, llm_settings(generator))
    return _written(out, lengthened, report)


def tag_data(
    data: Path, out: Path, generator: GeneratorRequest, *, field: str | None = None, max_tags: int = 5, min_count: int = 1
) -> DataToolResult:
    """InsTag-style tags per instruction: from each row's `field`, else asked of the generator model."""
    from evalkit.datarecipes.rows import read_rows
    from evalkit.datarecipes.tagging import tag_rows

    rows = read_rows(data)
    if field is not None:
        tagged, report = tag_rows(None, rows, field=field, settings=None, max_tags=max_tags, min_count=min_count)
    else:
        store = _store(generator)
        settings = llm_settings(generator)
        tagged, report = tag_rows(store, rows, field=None, settings=settings, max_tags=max_tags, min_count=min_count)
    return _written(out, tagged, report)


def sample_data(data: Path, out: Path, *, size: int, seed: int = 0) -> DataToolResult:
    """A tag-balanced sample of `size` rows (Yi/Qwen's diversity-focused selection)."""
    from evalkit.datarecipes.rows import read_rows
    from evalkit.datarecipes.sampling import balanced_sample, tag_counts

    rows = read_rows(data)
    sampled = balanced_sample(rows, size, seed)
    counts = tag_counts(sampled)
    report = {
        "rows_in": len(rows),
        "size": len(sampled),
        "seed": seed,
        "tags_in": len(tag_counts(rows)),
        "tags_kept": len(counts),
        "tag_rows_min": min(counts.values(), default=0),
        "tag_rows_max": max(counts.values(), default=0),
    }
    return _written(out, sampled, report)


def dedup_data(data: Path, out: Path, *, on: Field = "dialog", threshold: float = 0.8) -> DataToolResult:
    """Exact and near (MinHash) duplicates dropped, each reported."""
    from evalkit.datarecipes.dedup import deduplicate
    from evalkit.datarecipes.rows import read_rows

    rows = read_rows(data)
    kept, removed = deduplicate(rows, on=on, threshold=threshold)
    report = {
        "rows_in": len(rows),
        "kept": len(kept),
        "exact": sum(r.kind == "exact" for r in removed),
        "near": sum(r.kind == "near" for r in removed),
        "removed": [vars(r) for r in removed],
    }
    return _written(out, kept, report)


def data_stats(data: Sequence[Path], tokenizer: str | None = None) -> DataStats:
    """LIMA Table 1: examples and average input/output length per file (words, or `tokenizer`'s tokens)."""
    from evalkit.datarecipes.rows import read_rows
    from evalkit.datarecipes.stats import table_one, tag_distribution, tokenizer_length, word_length

    files = {path.stem: read_rows(path) for path in data}
    length = tokenizer_length(tokenizer) if tokenizer else word_length
    table = table_one(files, length)
    tags = tag_distribution([row for rows in files.values() for row in rows])
    return DataStats("tokens" if tokenizer else "words", table, tags)
