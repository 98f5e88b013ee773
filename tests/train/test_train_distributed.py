"""The 2-process CPU run (torchrun, gloo): it trains the same weights as one process with the same batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from evalkit.train.engine import TrainRequest, run_training
from tests.train_support import france_dialogs, write_jsonl

OVERRIDES = ["epochs=2", "batch_size=8", "micro_batch_size=2", "residual_dropout=0", "learning_rate=1e-3"]


@pytest.mark.slow
def test_two_process_torchrun_matches_one_process(tiny_model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = write_jsonl(tmp_path / "train.jsonl", france_dialogs(32))
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [
        str(torchrun),
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "evalkit",
        "train",
        "--data",
        str(data),
        "--model",
        str(tiny_model_dir),
        "--out",
        str(tmp_path / "two"),
        "--no-progress",
        "--json",
    ]
    for item in OVERRIDES:
        command += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    finished = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert finished.returncode == 0, finished.stderr[-3000:]
    summaries = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and summaries[0]["epochs"] == [1, 2]  # only rank 0 reports
    meta = json.loads((tmp_path / "two" / "epoch-2" / "evalkit_train.json").read_text())
    assert meta["step"] == 2 * 32 // 8  # each optimizer step saw 8 examples across the two processes

    overrides = dict(item.split("=") for item in OVERRIDES)
    one = run_training(TrainRequest(data, tiny_model_dir, tmp_path / "one", "lima", overrides, progress=False))
    # Same seed, same global batches (rank 0 takes micro-batches 0, 2, ..., rank 1 takes 1, 3, ...): same weights.
    two_weights = load_file(tmp_path / "two" / "epoch-2" / "model.safetensors")
    one_weights = load_file(one.out_dir / "epoch-2" / "model.safetensors")
    for name, tensor in one_weights.items():
        assert torch.allclose(two_weights[name], tensor, atol=1e-6), name
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "two" / "epoch-2") is not None
    assert AutoTokenizer.from_pretrained(tmp_path / "two" / "epoch-2").eos_token == "<|im_end|>"
