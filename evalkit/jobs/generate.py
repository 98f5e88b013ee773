"""The generate job (`evalkit generate`, `evalkit.generate_answers(...)`): answers of a checkpoint (or a
training run's epochs) to a prompt set, stored, and optionally written as AlpacaEval model_outputs.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evalkit.core.records import DecodingParams
    from evalkit.generate.factory import BackendOptions
    from evalkit.generate.runner import GenerateSummary


@dataclass(frozen=True)
class GenerateResult:
    """One summary per checkpoint (generated, already stored, tokens, decoding) and the files written."""

    summaries: tuple[GenerateSummary, ...]
    written: tuple[Path, ...] = ()


def generate_answers_job(
    checkpoint: str,
    decoding: DecodingParams,
    options: BackendOptions,
    *,
    epochs: list[int] | None = None,
    prompts: str = "dev",
    samples: int = 1,
    db: str | None = None,
    out: Path | None = None,
) -> GenerateResult:
    """Generate what the store lacks (finished answers are skipped) and write `out` when asked."""
    from evalkit.core.settings import db_url
    from evalkit.data import load_prompt_set
    from evalkit.generate.outputs import write_outputs_for
    from evalkit.generate.plan import generate_checkpoints
    from evalkit.store import Store

    prompt_set = load_prompt_set(prompts)
    store = Store(db_url(db))
    summaries = generate_checkpoints(store, checkpoint, epochs, prompt_set, decoding, options, samples=samples)
    written = write_outputs_for(store, summaries, prompt_set, Path(out)) if out else []
    return GenerateResult(tuple(summaries), tuple(written))
