"""Mini LIMA's improved method (its prompt 4): rewrite outputs that are too short to be longer and more
specific. It found output length moved AlpacaEval win rates most; `evalkit data stats` shows the change.

Only rows whose last assistant turn has fewer than `min_words` words are sent. A reply that is empty or
not longer than the original is unparseable for this purpose: counted, and the row keeps its output.
"""

from __future__ import annotations

from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.datarecipes.llm import Call, LLMSettings, run_calls
from evalkit.datarecipes.rows import Row
from evalkit.judges.templates import builtin_template
from evalkit.store import Store


def word_count(text: str) -> int:
    return len(text.split())


def _parse(text: str, call: Call) -> str | None:
    rewritten = text.strip()
    return rewritten if word_count(rewritten) > word_count(call.values["output"]) else None


def lengthen(store: Store, rows: list[Row], min_words: int, settings: LLMSettings) -> tuple[list[Row], dict[str, Any]]:
    if min_words < 1:
        raise EvalkitError("--min-words must be at least 1")
    template = builtin_template("data_lengthen.txt").require(["name", "instruction", "input", "output"])
    short = [index for index, row in enumerate(rows) if word_count(row.output) < min_words]
    calls = []
    for index in short:
        row = rows[index]
        instruction = row.extra.get("instruction") if isinstance(row.extra.get("instruction"), str) else row.instruction
        calls.append(
            Call(
                "lengthen",
                template,
                {
                    "name": str(row.extra.get("task") or row.extra.get("name") or ""),
                    "instruction": str(instruction or ""),
                    "input": str(row.extra.get("input") or ""),
                    "output": row.output or "",
                },
            )
        )
    outcomes, report = run_calls(store, calls, _parse, settings, "lengthen")
    result = list(rows)
    rewritten = 0
    for index, outcome in zip(short, outcomes):
        if outcome.parsed is not None:
            result[index] = rows[index].with_output(outcome.parsed).with_extra(lengthened=True)
            rewritten += 1
    words_before = sum(word_count(r.output) for r in rows) / len(rows)
    words_after = sum(word_count(r.output) for r in result) / len(result)
    return result, report.as_dict() | {
        "rows": len(rows),
        "too_short": len(short),
        "rewritten": rewritten,
        "avg_output_words_before": round(words_before, 1),
        "avg_output_words_after": round(words_after, 1),
    }
