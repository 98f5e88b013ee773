"""Resumable generation for one checkpoint: skip what is stored, store each batch as it finishes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evalkit.core.decoding_labels import decoding_label
from evalkit.core.records import DecodingParams, GenerationRequest, ModelInfo, PromptSet
from evalkit.generate.base import Generator
from evalkit.generate.checkpoint import Checkpoint, fingerprint, validate_checkpoint
from evalkit.generate.progress import GenerationProgress
from evalkit.store import Store


@dataclass(frozen=True)
class GenerateSummary:
    model: str
    model_id: int
    requested: int
    generated: int
    skipped: int
    completion_tokens: int
    decoding_hash: str
    decoding_label: str = ""  # how tables name the decoding: "greedy, rep 1.2, max 128 tokens, float32"


def register_checkpoint(store: Store, checkpoint: Checkpoint) -> int:
    validate_checkpoint(checkpoint.path)
    info = ModelInfo(
        name=checkpoint.name,
        fingerprint=fingerprint(checkpoint.path),
        path=str(checkpoint.path.resolve()),
        epoch=checkpoint.epoch,
        run=checkpoint.run,
    )
    return store.register_model(info)


def generate_for_checkpoint(
    store: Store,
    checkpoint: Checkpoint,
    prompt_set: PromptSet,
    decoding: DecodingParams,
    make_generator: Callable[[], Generator],
    *,
    samples: int = 1,
    model_id: int | None = None,
    progress: bool = True,
) -> GenerateSummary:
    """Generate every (prompt, sample) not yet stored. The backend is only built when work remains, so
    a re-run of finished work loads no model and sends no request."""
    if model_id is None:
        model_id = register_checkpoint(store, checkpoint)
    store.save_prompt_set(prompt_set)
    unique = {p.hash: p for p in prompt_set.prompts}
    wanted = [GenerationRequest(prompt, sample) for prompt in unique.values() for sample in range(samples)]
    generator: Generator | None = None
    generated = tokens = 0
    try:
        effective = decoding  # the caller passes the decoding the backend applies (factory.effective_decoding)
        stored = store.stored_generation_keys(model_id, effective)
        missing = [r for r in wanted if (r.prompt.hash, r.sample) not in stored]
        if missing:
            generator = make_generator()
        with GenerationProgress(len(missing), checkpoint.name, progress) as shown:
            if missing and generator is not None:
                if progress and hasattr(generator, "on_step"):
                    generator.on_step = shown.on_step
                for batch in generator.generate(missing, effective):
                    store.add_generations(model_id, effective, generator.backend, batch)
                    generated += len(batch)
                    tokens += sum(r.completion_tokens or 0 for r in batch)
                    shown.on_batch(batch)
    finally:
        if generator is not None:
            generator.close()
    return GenerateSummary(
        model=checkpoint.name,
        model_id=model_id,
        requested=len(wanted),
        generated=generated,
        skipped=len(wanted) - generated,
        completion_tokens=tokens,
        decoding_hash=effective.hash,
        decoding_label=decoding_label(effective.as_dict()),
    )
