"""AlpacaEval's `model_outputs.json`: read, write (atomically), and import into the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.core.records import GenerationResult, ModelInfo, Prompt, PromptSet
from evalkit.data.loaders import read_json_rows
from evalkit.files.jsonio import write_json_atomic
from evalkit.files.userfile import UserFile

if TYPE_CHECKING:
    from evalkit.store import Store


def read_model_outputs(path: str | Path) -> list[dict[str, Any]]:
    """Rows with at least `instruction` and `output` (strings); `generator` and `dataset` kept if present."""
    rows = []
    with UserFile(path, "model outputs file") as file:
        for row, _ in read_json_rows(file):
            if not isinstance(row, dict):
                raise file.error("expected a JSON object")
            for key in ("instruction", "output"):
                if not isinstance(row.get(key), str):
                    raise file.error(f"missing field {key!r} (AlpacaEval model_outputs format)")
            if not row["instruction"].strip():
                raise file.error("empty 'instruction'")
            rows.append(row)
    if not rows:
        raise EvalkitError(f"{path}: no outputs")
    return rows


def write_model_outputs(path: str | Path, rows: list[dict[str, Any]]) -> None:
    write_json_atomic(path, rows)


def import_model_outputs(store: Store, path: str | Path, generator: str | None = None) -> tuple[int, PromptSet]:
    """Store a model_outputs.json as a model with its generations; return (model_id, its prompt set).

    Prompts are keyed by instruction (AlpacaEval matches files that way), so the same instruction in
    two files is the same prompt. The model's fingerprint covers its name and every output text, so
    an edited file is a different model.
    """
    rows = read_model_outputs(path)
    generators = {row.get("generator") for row in rows} - {None}
    name = str(generator or (generators.pop() if len(generators) == 1 else Path(path).stem))
    by_instruction: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_instruction.setdefault(row["instruction"], row)  # AlpacaEval keeps the first of duplicates
    prompts = tuple(
        Prompt(id=str(i), messages=({"role": "user", "content": instr},), dataset=row.get("dataset"))
        for i, (instr, row) in enumerate(by_instruction.items())
    )
    prompt_set = PromptSet(f"outputs:{name}", prompts, source=str(Path(path).resolve()))
    store.save_prompt_set(prompt_set)
    fingerprint = content_hash(["imported", name, [row["output"] for row in by_instruction.values()]])
    model_id = store.register_model(ModelInfo(name=name, fingerprint=fingerprint, path=str(Path(path).resolve())))
    results = [GenerationResult(prompt_hash=p.hash, sample=0, text=by_instruction[p.instruction]["output"]) for p in prompts]
    store.add_generations(model_id, None, "import", results)
    return model_id, prompt_set
