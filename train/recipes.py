"""Training recipes: YAML files in train/configs/, every field overridable from the command line.

A recipe is data, not code, so the numbers a paper states (LIMA, Yi, Qwen) are readable in one place and
a run's configuration hash covers exactly what was trained. Values that depend on model size in the
papers (LIMA's batch and dropout, Yi's NEFTune alpha) are written `{small: A, large: B}` and resolved
once the base model's parameter count is known.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from evalkit.core.errors import EvalkitError
from evalkit.core.hashing import content_hash
from evalkit.core.ranges import parse_range
from evalkit.files.userfile import UserFile, is_file

LR_SCHEDULES = ("linear", "constant", "cosine")
DROPOUT_SCHEDULES = ("linear", "constant")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
PARALLELISMS = ("auto", "ddp", "fsdp2", "zero3")
LOAD_DTYPES = ("float32", "bfloat16", "float16")
SIZE_KEYS = frozenset({"small", "large"})


@dataclass(frozen=True)
class Recipe:
    """A fully resolved recipe: every field a scalar, ready to become TrainingArguments."""

    name: str = "lima"
    chat_format: str = "chatml"
    eot_token: str | None = None
    max_length: int = 2048
    epochs: int = 15
    max_steps: int | None = None
    batch_size: int = 64
    micro_batch_size: int = 8
    learning_rate: float = 1e-5
    lr_schedule: str = "linear"
    min_learning_rate: float = 1e-6
    warmup_steps: int = 0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_epsilon: float = 1e-8
    weight_decay: float = 0.1
    max_grad_norm: float = 1.0
    residual_dropout: float = 0.2
    residual_dropout_schedule: str = "linear"
    neftune_alpha: float | None = None
    large_model_params: float = 3.0e10
    packing: bool = True
    pack_tokens: int | None = None  # width of packed rows; None = the micro-batch's longest dialog (fastest on CPU)
    seed: int = 42
    precision: str = "auto"
    load_dtype: str = "float32"  # weights as loaded (master copy); bfloat16 halves memory for very large models
    parallelism: str = "auto"
    activation_checkpointing: bool = False
    dataloader_workers: int = 0
    save_epochs: str | None = field(default=None, metadata={"hashed": False})

    def hash(self) -> str:
        """Identity of what is trained: every field except where checkpoints are kept."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("hashed", True)}
        return content_hash(data)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save_window(self) -> list[int] | None:
        """Epochs to write checkpoints for (`save_epochs: 5-10`), or None for every epoch."""
        if not self.save_epochs:
            return None

        try:
            return parse_range(self.save_epochs)
        except ValueError as exc:
            raise EvalkitError(f"save_epochs {self.save_epochs!r} is not an epoch range ({exc}); use e.g. 5-10") from None


FIELDS = {f.name: f for f in dataclasses.fields(Recipe)}


def builtin_recipes() -> list[str]:
    folder = resources.files("evalkit.train").joinpath("configs")
    return sorted(entry.name[:-5] for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def load_recipe_spec(name_or_path: str, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """The recipe's raw fields (size-dependent ones still as {small, large}) with overrides applied and typed."""
    raw = _read(name_or_path, seen=())
    for key, text in (overrides or {}).items():
        if key not in FIELDS:
            raise EvalkitError(f"--set {key}: unknown recipe field; known fields: {', '.join(FIELDS)}")
        raw[key] = _coerce(key, yaml.safe_load(text) if isinstance(text, str) else text, f"--set {key}")
    return raw


def resolve(spec: dict[str, Any], num_params: int) -> Recipe:
    """Pick the small or large value of size-dependent fields and validate the result."""
    threshold = float(spec.get("large_model_params", Recipe.large_model_params))
    size = "large" if num_params >= threshold else "small"
    values = {key: (value[size] if isinstance(value, dict) else value) for key, value in spec.items()}
    recipe = Recipe(**values)
    _validate(recipe)
    return recipe


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """`["lr_schedule=constant", "epochs=3"]` -> {"lr_schedule": "constant", "epochs": "3"}."""
    overrides: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise EvalkitError(f"--set {item!r}: use --set FIELD=VALUE, e.g. --set learning_rate=2e-5")
        overrides[key.strip()] = value.strip()
    return overrides


def _read(name_or_path: str, seen: tuple[str, ...]) -> dict[str, Any]:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or is_file(path):
        with UserFile(path, "recipe file") as file:
            return _fields(file.yaml() or {}, str(path), seen)
    resource = resources.files("evalkit.train").joinpath("configs", f"{name_or_path}.yaml")
    if not is_file(resource):
        raise EvalkitError(f"unknown recipe {name_or_path!r}; use one of {', '.join(builtin_recipes())} or a YAML file")
    return _fields(yaml.safe_load(resource.read_text(encoding="utf-8")) or {}, f"recipe {name_or_path}", seen)


def _fields(data: Any, where: str, seen: tuple[str, ...]) -> dict[str, Any]:
    """A recipe's fields over those of the recipe it inherits from, each typed by its declaration."""
    if not isinstance(data, dict):
        raise EvalkitError(f"{where}: a recipe is a YAML mapping of field: value")
    parent = data.pop("inherit", None)
    if parent is not None and not isinstance(parent, str):
        raise EvalkitError(f"{where}: `inherit` names a recipe (e.g. lima) or a YAML file, got {parent!r}")
    if parent in seen:
        raise EvalkitError(f"{where}: recipes inherit from each other in a cycle ({' -> '.join(seen + (parent,))})")
    base = _read(parent, seen + (where,)) if parent else {}
    for key, value in data.items():
        if key not in FIELDS:
            raise EvalkitError(f"{where}: unknown field {key!r}; known fields: {', '.join(FIELDS)}")
        base[key] = _coerce(key, value, where)
    return base


def _coerce(key: str, value: Any, where: str) -> Any:
    """Type a YAML value by the field's declared type (YAML reads `1e-5` as a string, for one)."""
    if isinstance(value, dict):
        if set(value) != SIZE_KEYS:
            raise EvalkitError(f"{where}: {key} must be a value or {{small: A, large: B}}")
        return {size: _coerce(key, item, where) for size, item in value.items()}
    kind = str(FIELDS[key].type)
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        if "None" not in kind:
            raise EvalkitError(f"{where}: {key} cannot be empty")
        return None
    try:
        if kind.startswith("bool"):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "yes", "1")
            return bool(value)
        if kind.startswith("int"):
            number = float(value)
            if number != int(number):
                raise ValueError(value)
            return int(number)
        if kind.startswith("float"):
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        return str(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite or huge value for an int field
        raise EvalkitError(f"{where}: {key}={value!r} is not a valid {kind.split(' ')[0]}") from None


def _validate(recipe: Recipe) -> None:
    checks = [
        (recipe.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}"),
        (
            recipe.residual_dropout_schedule in DROPOUT_SCHEDULES,
            f"residual_dropout_schedule must be one of {', '.join(DROPOUT_SCHEDULES)}",
        ),
        (recipe.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
        (recipe.parallelism in PARALLELISMS, f"parallelism must be one of {', '.join(PARALLELISMS)}"),
        (recipe.load_dtype in LOAD_DTYPES, f"load_dtype must be one of {', '.join(LOAD_DTYPES)}"),
        (0.0 <= recipe.residual_dropout < 1.0, "residual_dropout must be in [0, 1)"),
        (recipe.learning_rate > 0, "learning_rate must be positive"),
        (
            recipe.lr_schedule != "linear" or recipe.min_learning_rate < recipe.learning_rate,
            "min_learning_rate must be below learning_rate",
        ),
        (recipe.epochs >= 1, "epochs must be at least 1"),
        (recipe.max_steps is None or recipe.max_steps >= 1, "max_steps must be at least 1"),
        (recipe.batch_size >= 1 and recipe.micro_batch_size >= 1, "batch_size and micro_batch_size must be at least 1"),
        (recipe.max_length >= 8, "max_length must be at least 8 tokens"),
    ]
    for ok, message in checks:
        if not ok:
            raise EvalkitError(f"recipe {recipe.name}: {message}")
