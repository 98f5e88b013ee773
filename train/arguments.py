"""A resolved recipe turned into transformers' TrainingArguments (optimizer, schedule, precision, parallelism).

Kept apart from the training loop so the mapping from paper numbers to Trainer settings can be read,
and tested, on its own: e.g. LIMA's "1e-5 decaying linearly to 1e-6, no warmup" is transformers'
polynomial schedule with power 1 and lr_end 1e-6.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

from evalkit.core.errors import EvalkitError
from evalkit.train.recipes import Recipe


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0 of a distributed launch (or the only process): the one that writes and reports. Here, not in
    engine.py, so that a caller can ask before importing torch."""
    return int(os.environ.get("RANK", "0")) == 0


def batch_layout(recipe: Recipe, processes: int) -> tuple[int, int]:
    """(examples per device per pass, passes per optimizer step) so that one step sees exactly `batch_size`.

    A micro-batch larger than a device's share of the batch is shrunk to that share.
    """
    micro = max(1, min(recipe.micro_batch_size, recipe.batch_size // processes))
    per_pass = micro * processes
    if recipe.batch_size % per_pass:
        raise EvalkitError(
            f"batch_size {recipe.batch_size} is not a multiple of micro_batch_size {micro} x "
            f"{processes} processes; change --set micro_batch_size or --set batch_size"
        )
    return micro, recipe.batch_size // per_pass


def schedule_settings(recipe: Recipe) -> dict[str, Any]:
    if recipe.lr_schedule == "linear":
        return {"lr_scheduler_type": "polynomial", "lr_scheduler_kwargs": {"lr_end": recipe.min_learning_rate, "power": 1.0}}
    if recipe.lr_schedule == "cosine":
        return {"lr_scheduler_type": "cosine_with_min_lr", "lr_scheduler_kwargs": {"min_lr": recipe.min_learning_rate}}
    return {"lr_scheduler_type": "constant_with_warmup" if recipe.warmup_steps else "constant", "lr_scheduler_kwargs": {}}


def precision_settings(recipe: Recipe) -> dict[str, Any]:
    import torch

    precision = recipe.precision
    if precision == "auto":
        cuda = torch.cuda.is_available()
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else ("fp16" if cuda else "fp32")
    return {"bf16": precision == "bf16", "fp16": precision == "fp16"}


def parallel_settings(recipe: Recipe, processes: int) -> dict[str, Any]:
    """FSDP2 by default on several GPUs; DeepSpeed ZeRO-3 on request; an `accelerate launch` config wins."""
    import torch

    if (
        os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true"
        or os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true"
    ):
        return {}
    mode = recipe.parallelism
    if mode == "auto":
        mode = "fsdp2" if processes > 1 and torch.cuda.is_available() else "ddp"
    if mode in ("fsdp2", "zero3") and not torch.cuda.is_available():
        raise EvalkitError(f"parallelism {mode} needs GPUs (accelerate shards only CUDA models); on CPU use parallelism=ddp")
    if mode == "fsdp2":
        return {"fsdp": "full_shard auto_wrap", "fsdp_config": launch_config("fsdp2.json")}
    if mode == "zero3":
        try:
            import deepspeed  # noqa: F401
        except ImportError:
            raise EvalkitError("parallelism zero3 needs DeepSpeed: pip install deepspeed") from None
        return {"deepspeed": str(launch_config_path("zero3.json"))}
    return {"ddp_find_unused_parameters": False}


def launch_config_path(name: str) -> Path:
    return Path(str(resources.files("evalkit.train").joinpath("configs", "launch", name)))


def launch_config(name: str) -> dict[str, Any]:
    import json

    return json.loads(launch_config_path(name).read_text(encoding="utf-8"))


def training_arguments(recipe: Recipe, resume_dir: Path, processes: int) -> Any:
    import torch
    from transformers import TrainingArguments

    cpu = not torch.cuda.is_available()
    micro, accumulation = batch_layout(recipe, processes)
    return TrainingArguments(
        output_dir=str(resume_dir),
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        num_train_epochs=recipe.epochs,
        max_steps=recipe.max_steps or -1,
        learning_rate=recipe.learning_rate,
        warmup_steps=recipe.warmup_steps,
        optim="adamw_torch",
        adam_beta1=recipe.adam_beta1,
        adam_beta2=recipe.adam_beta2,
        adam_epsilon=recipe.adam_epsilon,
        weight_decay=recipe.weight_decay,
        max_grad_norm=recipe.max_grad_norm,
        neftune_noise_alpha=recipe.neftune_alpha,
        gradient_checkpointing=recipe.activation_checkpointing,  # named activation_checkpointing from transformers 5.20
        seed=recipe.seed,
        data_seed=recipe.seed,
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="epoch",
        save_total_limit=1,
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=recipe.dataloader_workers,
        use_cpu=cpu,
        ddp_backend="gloo" if cpu and processes > 1 else None,
        **schedule_settings(recipe),
        **precision_settings(recipe),
        **parallel_settings(recipe, processes),
    )
