"""oneDNN matmuls on prepacked weights for the decoding loop's linear layers, on CPU.

A decoding step multiplies a few dozen rows by every weight matrix. At those shapes MKL's fp32 GEMM
(what `torch.nn.functional.linear` calls on CPU) runs far below both the memory and the compute limit
of the machine: measured on SmolLM2-135M's 211 matrices on 2 AVX2 cores, 170 ms at 15 rows where
oneDNN on weights packed once into its blocked layout takes 104 ms, 320 against 185 ms at 50 rows
(`bench/decode_parts.py` measures it on whole steps). oneDNN ships inside torch (the same kernels
`torch.compile` uses for CPU linears: `torch.ops.mkldnn._linear_pointwise`), so this is a library's
method, not a hand-written kernel.

The products are the same, the summation order is not: logits differ from MKL's in the sixth
significant digit, so a greedy answer can part from `model.generate`'s at a near-tie. The tests check
the loop token for token against `generate` with this off, and with it on against the loop with it off.
Packed copies cost the weights' memory once more, so models whose linear weights exceed
MAX_PACKED_BYTES keep MKL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch

MAX_PACKED_BYTES = 4 << 30
PACKING_ROWS = 32  # oneDNN picks its blocked layout for this many rows; any row count runs on it
ENABLED = True  # module switch: tests turn it off to compare with `generate` token for token
PACKED_ATTRIBUTE = "_evalkit_packed_weight"  # (weight version, packed weight), on each module


def usable(model: Any) -> bool:
    """fp32 weights on CPU, a torch built with oneDNN, and room for the packed copies."""
    return _usable(_linears(model))


def _linears(model: Any) -> list[torch.nn.Linear]:
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


def _usable(linears: list[torch.nn.Linear]) -> bool:
    if not ENABLED or not linears or not torch.backends.mkldnn.is_available():
        return False
    if not hasattr(torch.ops.mkldnn, "_linear_pointwise"):
        return False
    weights = [m.weight for m in linears]
    if any(w.device.type != "cpu" or w.dtype != torch.float32 for w in weights):
        return False
    if any(hasattr(m, "_hf_hook") for m in linears):  # accelerate's offloading wraps forward itself
        return False
    return sum(w.numel() * w.element_size() for w in weights) <= MAX_PACKED_BYTES


def _packed(module: torch.nn.Linear) -> torch.Tensor:
    """The module's weight in oneDNN's layout, kept on the module: packed once, and again only after the
    weight changed in place (a training step bumps the tensor's version counter)."""
    weight = module.weight
    held: tuple[int, torch.Tensor] | None = module.__dict__.get(PACKED_ATTRIBUTE)
    if held is None or held[0] != weight._version:
        with torch.no_grad():
            held = (weight._version, torch.ops.mkldnn._reorder_linear_weight(weight.detach(), PACKING_ROWS))
        module.__dict__[PACKED_ATTRIBUTE] = held
    return held[1]


def linear(module: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, _packed(module), module.bias, "none", [], "")


@contextmanager
def enabled(model: Any) -> Iterator[bool]:
    """While the block runs, every nn.Linear of `model` (its head included) computes with oneDNN on packed
    weights; yields whether it does (False when `usable` says no: the layers keep MKL)."""
    linears = _linears(model)
    if not _usable(linears):
        yield False
        return
    for module in linears:
        module.forward = partial(linear, module)  # type: ignore[method-assign]
    try:
        yield True
    finally:
        for module in linears:
            del module.forward  # back to the class's forward (_usable ruled out instance-level wrappers)
