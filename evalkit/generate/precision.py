"""The numeric precision a local engine computes in: one name per dtype, chosen before any model loads.

It is part of every generation's decoding (`DecodingParams.dtype`), so answers made in float32 and in
bfloat16 are two generation sets, never one. Both local engines get it explicitly: vLLM's own "auto"
downcasts a float32 checkpoint to bfloat16 on a CPU, which would leave the stored answers saying
nothing true about what produced them, so evalkit has no "auto".
"""

from __future__ import annotations

from evalkit.core.errors import EvalkitError

# what a user may type -> the one name stored
ALIASES = {"float32": "float32", "float": "float32", "bfloat16": "bfloat16", "float16": "float16", "half": "float16"}


def parse_dtype(text: str | None) -> str | None:
    """The canonical name of a --dtype value; None stays None (the backend's default)."""
    if text is None:
        return None
    if text == "auto":
        raise EvalkitError("--dtype auto: name the precision (float32, bfloat16 or float16), so stored answers record it")
    try:
        return ALIASES[text]
    except KeyError:
        raise EvalkitError(f"--dtype must be float32, bfloat16 or float16, got {text!r}") from None


def on_cuda(device: str | None) -> bool:
    """Whether a local engine will run on a CUDA device: the one asked for, else whatever torch sees."""
    if device is not None:
        return device.startswith("cuda")
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def engine_dtype(requested: str | None, device: str | None = None) -> str:
    """The dtype a local engine uses: the one asked for, else bfloat16 on CUDA and float32 on a CPU (where
    bfloat16 matmuls are slower and change the answers), the same for transformers and vLLM."""
    return requested or ("bfloat16" if on_cuda(device) else "float32")


def torch_dtype(name: str) -> object:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
