"""Export stored generations as AlpacaEval `model_outputs.json`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalkit.core.records import PromptSet
from evalkit.data.alpaca import write_model_outputs
from evalkit.generate.runner import GenerateSummary
from evalkit.store import Store


def model_outputs(store: Store, model_id: int, decoding_hash: str, generator: str, prompt_set: PromptSet) -> list[dict[str, Any]]:
    """One row per prompt of the set, in the set's order (all samples when there are several)."""
    frame = store.generations(model_id, decoding_hash)
    by_key = {(row.prompt_hash, int(row.sample)): row.text for row in frame.itertuples()}
    samples = sorted({int(s) for s in frame["sample"]}) if len(frame) else [0]
    rows = []
    for prompt in prompt_set.prompts:
        for sample in samples:
            text = by_key.get((prompt.hash, sample))
            if text is None:
                continue
            row: dict[str, Any] = {
                "instruction": prompt.instruction,
                "output": text,
                "generator": generator,
                "dataset": prompt.dataset or prompt_set.name,
            }
            if len(samples) > 1:
                row["sample"] = sample
            rows.append(row)
    return rows


def write_outputs_for(store: Store, summaries: list[GenerateSummary], prompt_set: PromptSet, out: Path) -> list[Path]:
    """One checkpoint -> `out`; several -> `out` with each checkpoint's name before the suffix."""
    paths = []
    for summary in summaries:
        path = (
            out if len(summaries) == 1 else out.with_name(f"{out.stem}.{summary.model.replace('/', '.')}{out.suffix or '.json'}")
        )
        write_model_outputs(path, model_outputs(store, summary.model_id, summary.decoding_hash, summary.model, prompt_set))
        paths.append(path)
    return paths
