"""The Trainer engine: per-epoch checkpoints that reload and stop at the EOT, exact resume, the CLI contract."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import torch

from evalkit.cli.main import main
from evalkit.train.engine import TrainRequest, run_training
from tests.train_support import ANSWER, france_dialogs, plain_base_model, write_jsonl

OVERRIDES = {"epochs": "3", "batch_size": "4", "micro_batch_size": "2", "learning_rate": "1e-2", "min_learning_rate": "1e-3"}
STEPS_PER_EPOCH = 12  # 48 dialogs / 4 per step


class Crash(RuntimeError):
    pass


def _recording(batches: list):
    """A trainer hook that records every micro-batch the dataloader hands out, in order."""

    def hook(trainer) -> None:
        inner = trainer.data_collator

        def collate(examples):
            batches.append(tuple(tuple(example["input_ids"]) for example in examples))
            return inner(examples)

        trainer.data_collator = collate

    return hook


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "train.jsonl", france_dialogs(48))


@pytest.fixture(scope="module")
def straight_run(tiny_model_dir: Path, data_file: Path, tmp_path_factory: pytest.TempPathFactory):
    """Three epochs without interruption, with the batches it saw."""
    batches: list = []
    out = tmp_path_factory.mktemp("straight") / "ckpt"
    result = run_training(
        TrainRequest(data_file, tiny_model_dir, out, "lima", dict(OVERRIDES), progress=False), trainer_hook=_recording(batches)
    )
    return result, batches


@pytest.mark.slow  # trains the tiny model (the module fixture straight_run)
def test_each_epoch_checkpoint_reloads_and_generation_stops_at_eot(straight_run) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result, _ = straight_run
    assert result.epochs == [1, 2, 3] and not (result.out_dir / ".resume").exists()
    losses = []
    for epoch in result.epochs:
        folder = result.out_dir / f"epoch-{epoch}"
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder)
        eot_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
        assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token_id not in (None, eot_id)
        assert model.generation_config.eos_token_id == eot_id and model.config.use_cache
        assert "<|im_start|>" in tokenizer.chat_template
        meta = json.loads((folder / "evalkit_train.json").read_text())
        assert (meta["epoch"], meta["step"]) == (epoch, STEPS_PER_EPOCH * epoch)
        assert meta["config_hash"] == result.config_hash and meta["data_hash"] == result.data_hash
        losses.append(meta["train_loss"])
    assert losses[2] < losses[0]

    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        output = model.generate(**prompt, max_new_tokens=30, do_sample=False)
    generated = output[0, prompt["input_ids"].shape[1] :].tolist()
    assert generated[-1] == eot_id and len(generated) < 30  # stopped by the EOT, not by the length limit
    assert eot_id not in generated[:-1]
    assert tokenizer.decode(generated, skip_special_tokens=True) == ANSWER


@pytest.mark.slow  # trains the tiny model twice
def test_resume_after_a_crash_repeats_and_skips_no_batch(
    straight_run, tiny_model_dir: Path, data_file: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    class CrashMidEpochThree(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2 * STEPS_PER_EPOCH + 3:
                raise Crash("simulated crash")

    straight, straight_batches = straight_run
    out = tmp_path / "ckpt"
    first: list = []
    with pytest.raises(Crash):
        run_training(
            TrainRequest(data_file, tiny_model_dir, out, "lima", dict(OVERRIDES), progress=False),
            callbacks=[CrashMidEpochThree()],
            trainer_hook=_recording(first),
        )
    assert sorted(p.name for p in out.glob("epoch-*")) == ["epoch-1", "epoch-2"]
    assert json.loads((out / "train_run.json").read_text())["status"] == "running"

    second: list = []
    resumed = run_training(
        TrainRequest(data_file, tiny_model_dir, out, "lima", dict(OVERRIDES), progress=False), trainer_hook=_recording(second)
    )
    assert resumed.resumed_from_step == 2 * STEPS_PER_EPOCH and resumed.epochs == [1, 2, 3]
    micro_per_epoch = len(straight_batches) // 3
    assert first[: 2 * micro_per_epoch] == straight_batches[: 2 * micro_per_epoch]
    assert second == straight_batches[2 * micro_per_epoch :]  # epoch 3 exactly once, in the same order
    expected = load_file(straight.out_dir / "epoch-3" / "model.safetensors")
    actual = load_file(out / "epoch-3" / "model.safetensors")
    for name, tensor in expected.items():
        assert torch.allclose(actual[name], tensor, atol=1e-6), name
    meta = lambda root: json.loads((root / "epoch-3" / "evalkit_train.json").read_text())  # noqa: E731
    assert meta(out)["train_loss"] == pytest.approx(meta(straight.out_dir)["train_loss"], rel=1e-5)


@pytest.mark.slow  # a training run through the command line
def test_cli_adds_eot_keeps_the_window_reports_skips_and_picks(tmp_path: Path, capsys, monkeypatch) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = plain_base_model(tmp_path / "base")
    long_dialog = {"messages": [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}]}
    data = write_jsonl(tmp_path / "train.jsonl", france_dialogs(12) + [long_dialog])
    picked: list = []
    monkeypatch.setitem(
        sys.modules,
        "evalkit.jobs.pick",
        types.SimpleNamespace(
            pick_checkpoint=lambda out_dir, db_url, config=None: picked.append((Path(out_dir), db_url)) or "epoch-3"
        ),
    )
    argv = [
        "train",
        "--data",
        str(data),
        "--model",
        str(base),
        "--out",
        str(tmp_path / "ckpt"),
        "--epochs",
        "3",
        "--save-epochs",
        "2-3",
        "--set",
        "batch_size=4",
        "--set",
        "max_length=128",
        "--pick",
        "--db",
        "sqlite:///x.db",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "loss=" in captured.err and "tok_s=" in captured.err and "9/9" in captured.err  # progress: loss, tokens/s, steps
    assert f"skipping 1 dialog(s) with no trainable token within max_length 128: {data}:13" in captured.err
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("epoch-*")) == ["epoch-2", "epoch-3"]
    assert picked == [((tmp_path / "ckpt").resolve(), "sqlite:///x.db")] and "picked: epoch-3" in captured.out
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "ckpt" / "epoch-3")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "ckpt" / "epoch-3")
    assert tokenizer.eos_token == "<|im_end|>" and model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id != tokenizer.pad_token_id

    assert main(argv[:-3]) == 0 and "already trained" in capsys.readouterr().out
    assert main([*argv[:-3], "--set", "learning_rate=1e-3"]) == 2
    assert "holds a run with a different recipe" in capsys.readouterr().err


def test_cli_errors_are_one_line_with_exit_2(tmp_path: Path, tiny_model_dir: Path, capsys, monkeypatch) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n{"messages": 5}\n')
    base = ["train", "--model", str(tiny_model_dir), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main([*base, "--data", str(bad)]) == 2
    assert f"{bad}: 1 bad line of 2: line 2: `messages` must be a non-empty list" in capsys.readouterr().err
    assert main([*base, "--data", str(bad), "--recipe", "nope"]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "evalkit.jobs.pick", None)  # as when evalkit/jobs/pick.py does not exist
    assert main([*base, "--data", str(bad), "--pick"]) == 2
    assert "--pick needs the checkpoint picker" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
