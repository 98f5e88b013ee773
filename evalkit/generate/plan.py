"""Generation over what a user names: a local checkpoint, a training run's epochs, or a served model."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.core.records import DecodingParams, ModelInfo, PromptSet
from evalkit.generate.checkpoint import Checkpoint, find_checkpoints
from evalkit.generate.factory import BackendOptions, effective_decoding, make_generator
from evalkit.generate.runner import GenerateSummary, generate_for_checkpoint
from evalkit.store import Store


def generate_checkpoints(
    store: Store,
    target: str,
    epochs: list[int] | None,
    prompt_set: PromptSet,
    decoding: DecodingParams,
    options: BackendOptions,
    *,
    samples: int = 1,
    progress: bool = True,
) -> list[GenerateSummary]:
    decoding = effective_decoding(options, decoding)
    if options.backend == "openai" and not Path(target).exists():
        # A model that only exists behind the server: its identity is the server and the model name.
        name = options.model_name or target
        checkpoint = Checkpoint(path=Path(target), name=name)
        model_id = store.register_model(ModelInfo(name=name, fingerprint=content_hash(["openai", options.base_url, name])))
        options = BackendOptions(**{**options.__dict__, "model_name": name})
        return [
            generate_for_checkpoint(
                store,
                checkpoint,
                prompt_set,
                decoding,
                lambda: make_generator(checkpoint, options),
                samples=samples,
                model_id=model_id,
                progress=progress,
            )
        ]
    checkpoints = find_checkpoints(target, epochs)
    if options.backend in ("vllm", "vllm-server"):
        from evalkit.generate.vllm_backend import check_context_length

        check_context_length(options.vllm, [checkpoint.path for checkpoint in checkpoints])
    if options.workers is not None:
        return _generate_on_ray(store, checkpoints, prompt_set, decoding, options, samples, progress)
    summaries = []
    for checkpoint in checkpoints:
        summaries.append(
            generate_for_checkpoint(
                store,
                checkpoint,
                prompt_set,
                decoding,
                partial(make_generator, checkpoint, options),
                samples=samples,
                progress=progress,
            )
        )
    return summaries


def _generate_on_ray(
    store: Store,
    checkpoints: list[Checkpoint],
    prompt_set: PromptSet,
    decoding: DecodingParams,
    options: BackendOptions,
    samples: int,
    progress: bool,
) -> list[GenerateSummary]:
    """As the loop above, on Ray tasks; a failed checkpoint fails the command once the others are stored."""
    from evalkit.generate.scaleout import generate_on_ray

    results = generate_on_ray(store.url, checkpoints, prompt_set, decoding, options, samples=samples, progress=progress)
    failed = [f"{r.checkpoint.name}: {r.error}" for r in results if r.error is not None]
    if failed:
        raise EvalkitError("; ".join(failed))
    return [r.summary for r in results if r.summary is not None]
