"""`evalkit.integrations.trl.EvalkitCallback` on a real TRL `SFTTrainer`: every saved checkpoint is
evaluated by the background evaluator, and a trainer without an output folder is refused in one line."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from evalkit.core.errors import EvalkitError
from evalkit.core.records import DecodingParams
from evalkit.generate.factory import BackendOptions
from evalkit.store import Store
from tests.train_support import france_dialogs, write_jsonl

PROMPTS = 3
DECODING = DecodingParams(max_new_tokens=8)
BACKEND = BackendOptions(backend="transformers")


def _prompts(tmp_path: Path) -> Path:
    rows = [{"id": f"q{i}", "prompt": f"Where is the French capital, take {i}?", "reference": "Paris."} for i in range(PROMPTS)]
    return write_jsonl(tmp_path / "prompts.jsonl", rows)


def test_a_trainer_without_an_output_dir_is_one_clear_error(tmp_path: Path) -> None:
    from evalkit.integrations.trl import EvalkitCallback

    callback = EvalkitCallback(prompts=str(_prompts(tmp_path)), judges=["reference"], db=f"sqlite:///{tmp_path / 'x.db'}")
    state = types.SimpleNamespace(is_world_process_zero=True, global_step=2)
    for event in (callback.on_train_begin, callback.on_save):
        with pytest.raises(EvalkitError, match=r"^EvalkitCallback needs the trainer's output_dir \(TrainingArguments"):
            event(types.SimpleNamespace(output_dir=None), state, None)
    assert callback.evaluator.process is None  # nothing was started
    with pytest.raises(EvalkitError, match="unknown option"):
        EvalkitCallback(prompts="dev", judges=["reference"], epochs=[1])


@pytest.mark.slow  # four SFT steps and two checkpoints evaluated in a child process
def test_each_checkpoint_an_sft_trainer_saves_is_evaluated(tmp_path: Path, tiny_model_dir: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from evalkit.integrations.trl import EvalkitCallback
    from evalkit.jobs.generate import generate_answers_job
    from evalkit.jobs.run import evaluate_run

    db = f"sqlite:///{tmp_path / 'trl.db'}"
    prompts = str(_prompts(tmp_path))
    generate_answers_job(str(tiny_model_dir), DECODING, BACKEND, prompts=prompts, db=db)  # the baseline: the base model
    callback = EvalkitCallback(
        prompts=prompts, judges=["reference"], db=db, baseline="model", decoding=DECODING, backend=BACKEND, timeout=300
    )
    args = SFTConfig(
        output_dir=str(tmp_path / "sft"),
        max_steps=4,
        save_steps=2,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        max_length=64,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        args=args,
        train_dataset=Dataset.from_list(france_dialogs(8)),
        processing_class=AutoTokenizer.from_pretrained(tiny_model_dir),
        callbacks=[callback],
    )
    trainer.train()

    assert [(done.label, done.error) for done in callback.results] == [("checkpoint-2", None), ("checkpoint-4", None)]
    store = Store(db)
    names = store.models().set_index("id")["name"]
    answers = {str(names[m]): int(n) for m, n in store.generations().groupby("model_id").size().items()}
    assert answers == {"model": PROMPTS, "checkpoint-2": PROMPTS, "checkpoint-4": PROMPTS}
    stored = (len(store.generations()), len(store.judgments()))
    for step in (2, 4):  # each checkpoint judged on every prompt: `run` finds it all stored
        result = evaluate_run(str(tmp_path / "sft" / f"checkpoint-{step}"), callback.config, db=db)
        assert [(row.checkpoint, row.n) for row in result.rows] == [(f"checkpoint-{step}", PROMPTS)]
    assert (len(store.generations()), len(store.judgments())) == stored
