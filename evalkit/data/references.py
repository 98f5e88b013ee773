"""A prompt set's reference answers as a model in the store: the default baseline of `evalkit run`
(as AlpacaEval compares against its reference outputs)."""

from __future__ import annotations

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.core.records import GenerationResult, ModelInfo, PromptSet
from evalkit.store import Store


def reference_model_name(prompt_set: PromptSet) -> str:
    return f"{prompt_set.name}-reference"


def import_references(store: Store, prompt_set: PromptSet) -> int:
    with_reference = [p for p in prompt_set.prompts if p.reference]
    if not with_reference:
        raise EvalkitError(f"prompt set {prompt_set.name!r} has no reference answers; pass --baseline FILE or MODEL")
    name = reference_model_name(prompt_set)
    fingerprint = content_hash(["references", name, [[p.hash, p.reference] for p in with_reference]])
    model_id = store.register_model(ModelInfo(name=name, fingerprint=fingerprint, path=prompt_set.source))
    results = [GenerationResult(prompt_hash=p.hash, sample=0, text=p.reference or "") for p in with_reference]
    store.add_generations(model_id, None, "reference", results)
    return model_id
