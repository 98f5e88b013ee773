"""Residual dropout (LIMA, after Ouyang et al. 2022): dropout on each layer's attention and MLP outputs
before they join the residual stream, at a rate rising linearly from 0.0 at the bottom layer to the
recipe's rate at the top layer.

It is attached with forward hooks rather than by editing the model class, so any decoder-only
architecture works and saved checkpoints stay plain Hugging Face models with no trace of training.
The hooks consult `module.training`, so evaluation and generation are never affected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from evalkit.core.errors import EvalkitError

ATTENTION_NAMES = ("self_attn", "attn", "attention", "self_attention")
MLP_NAMES = ("mlp", "feed_forward", "ffn", "block_sparse_moe")


def layer_rates(num_layers: int, top_rate: float, schedule: str = "linear") -> list[float]:
    """Per-layer dropout rates: 0 at the bottom layer rising linearly to `top_rate` (or flat when constant)."""
    if schedule == "constant" or num_layers == 1:
        return [top_rate] * num_layers
    return [top_rate * index / (num_layers - 1) for index in range(num_layers)]


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of transformer blocks: the ModuleList whose length is the config's layer count."""
    count = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    for _, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0 and (count is None or len(module) == count):
            if _branch(module[0], ATTENTION_NAMES) is not None:
                return module
    raise EvalkitError(f"{type(model).__name__}: cannot find its decoder layers for residual dropout; set residual_dropout=0")


def attach_residual_dropout(model: nn.Module, top_rate: float, schedule: str = "linear") -> list[Any]:
    """Register the hooks; returns their handles (call `.remove()` on each to detach). No-op at rate 0."""
    if top_rate <= 0:
        return []
    layers = decoder_layers(model)
    handles = []
    for layer, rate in zip(layers, layer_rates(len(layers), top_rate, schedule)):
        if rate <= 0:
            continue
        for names in (ATTENTION_NAMES, MLP_NAMES):
            branch = _branch(layer, names)
            if branch is None:
                raise EvalkitError(
                    f"{type(layer).__name__}: no attention/MLP submodule for residual dropout; set residual_dropout=0"
                )
            handles.append(branch.register_forward_hook(_dropout_hook(rate)))
    return handles


def _branch(layer: nn.Module, names: tuple[str, ...]) -> nn.Module | None:
    for name in names:
        module = getattr(layer, name, None)
        if isinstance(module, nn.Module):
            return module
    return None


def _dropout_hook(rate: float) -> Callable[[nn.Module, Any, Any], Any]:
    def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
        if not module.training:
            return None
        if isinstance(output, torch.Tensor):
            return nn.functional.dropout(output, rate, training=True)
        if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
            return (nn.functional.dropout(output[0], rate, training=True), *output[1:])
        return None

    hook.rate = rate  # type: ignore[attr-defined]  # lets tests and logs read the rate back
    return hook
