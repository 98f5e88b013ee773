"""Recipes: the paper numbers reach the optimizer and the LR schedule; overrides are typed and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.core.errors import EvalkitError
from evalkit.train.arguments import batch_layout, training_arguments
from evalkit.train.recipes import builtin_recipes, load_recipe_spec, parse_overrides, resolve

SMALL, LARGE = 7_000_000_000, 65_000_000_000


def _optimizer_and_lrs(recipe, model_dir: Path, tmp_path: Path, steps: int) -> tuple[object, list[float]]:
    """Build the Trainer's own optimizer and scheduler for `recipe` and record the lr of every optimizer step."""
    from transformers import AutoModelForCausalLM, Trainer

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    trainer = Trainer(model=model, args=training_arguments(recipe, tmp_path / "resume", processes=1))
    trainer.create_optimizer_and_scheduler(num_training_steps=steps)
    lrs = []
    for _ in range(steps):
        lrs.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
    return trainer.optimizer, lrs


def test_lima_lr_decays_linearly_from_1e5_to_1e6_without_warmup(tiny_model_dir: Path, tmp_path: Path) -> None:
    recipe = resolve(load_recipe_spec("lima"), SMALL)
    steps = 40
    optimizer, lrs = _optimizer_and_lrs(recipe, tiny_model_dir, tmp_path, steps)
    expected = [1e-5 + (1e-6 - 1e-5) * step / steps for step in range(steps)]
    assert lrs[0] == pytest.approx(1e-5, rel=1e-12)  # no warmup: the first step already uses the peak
    assert lrs == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-6)  # reached by the end of training
    assert optimizer.defaults["betas"] == (0.9, 0.95)
    assert {group["weight_decay"] for group in optimizer.param_groups} == {0.1, 0.0}  # no decay on norms/biases


def test_qwen_warms_up_to_2e6_then_holds_and_yi_is_constant(tiny_model_dir: Path, tmp_path: Path) -> None:
    qwen = resolve(load_recipe_spec("qwen", {"warmup_steps": "10"}), SMALL)
    _, lrs = _optimizer_and_lrs(qwen, tiny_model_dir, tmp_path / "q", 30)
    assert lrs[:11] == pytest.approx([2e-6 * step / 10 for step in range(11)], abs=1e-15) and set(lrs[10:]) == {2e-6}
    yi = resolve(load_recipe_spec("yi"), SMALL)
    optimizer, lrs = _optimizer_and_lrs(yi, tiny_model_dir, tmp_path / "y", 5)
    assert set(lrs) == {1e-5} and optimizer.defaults["betas"] == (0.9, 0.999) and optimizer.defaults["eps"] == 1e-8
    args = training_arguments(yi, tmp_path / "r", processes=1)
    assert (args.neftune_noise_alpha, args.max_steps, args.max_grad_norm, args.weight_decay) == (5.0, 300, 1.0, 0.1)


def test_paper_numbers_and_size_dependent_fields() -> None:
    assert {"lima", "yi", "qwen", "demo"} <= set(builtin_recipes())
    small, large = resolve(load_recipe_spec("lima"), SMALL), resolve(load_recipe_spec("lima"), LARGE)
    assert (small.epochs, small.batch_size, small.residual_dropout) == (15, 64, 0.2)
    assert (large.batch_size, large.residual_dropout, large.max_length) == (32, 0.3, 2048)
    assert (small.adam_beta1, small.adam_beta2, small.weight_decay, small.warmup_steps) == (0.9, 0.95, 0.1, 0)
    yi_small, yi_large = resolve(load_recipe_spec("yi"), 6_000_000_000), resolve(load_recipe_spec("yi"), 34_000_000_000)
    assert (yi_small.neftune_alpha, yi_large.neftune_alpha, yi_small.max_steps, yi_small.max_length) == (5.0, 45.0, 300, 4096)
    qwen = resolve(load_recipe_spec("qwen"), SMALL)
    assert (qwen.batch_size, qwen.max_steps, qwen.warmup_steps, qwen.learning_rate, qwen.residual_dropout) == (
        128,
        4000,
        1430,
        2e-6,
        0.1,
    )


def test_overrides_are_typed_and_change_the_config_hash() -> None:
    base = resolve(load_recipe_spec("lima"), SMALL)
    spec = load_recipe_spec("lima", parse_overrides(["learning_rate=1e-3", "packing=false", "max_steps=none", "batch_size=16"]))
    changed = resolve(spec, LARGE)  # a scalar override replaces the {small, large} pair
    assert (changed.learning_rate, changed.packing, changed.max_steps, changed.batch_size) == (1e-3, False, None, 16)
    assert changed.hash() != base.hash()
    windowed = resolve(load_recipe_spec("lima", {"save_epochs": "5-10"}), SMALL)
    assert windowed.hash() == base.hash()  # where checkpoints are kept does not change what is trained
    assert windowed.save_window() == [5, 6, 7, 8, 9, 10] and base.save_window() is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["lerning_rate=1"], "unknown recipe field"),
        (["epochs=two"], "not a valid int"),
        (["packing=maybe"], "not a valid bool"),
        (["lr_schedule=cyclic"], "lr_schedule must be one of"),
        (["residual_dropout=1.5"], "residual_dropout must be in"),
        (["learning_rate"], "use --set FIELD=VALUE"),
    ],
)
def test_bad_overrides_are_clear_errors(overrides: list[str], message: str) -> None:
    with pytest.raises(EvalkitError, match=message):
        resolve(load_recipe_spec("lima", parse_overrides(overrides)), SMALL)


def test_recipe_files_inherit_and_fail_clearly(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("inherit: lima\nname: mine\nepochs: 3\n", encoding="utf-8")
    mine = resolve(load_recipe_spec(str(path)), SMALL)
    assert (mine.name, mine.epochs, mine.learning_rate) == ("mine", 3, 1e-5)
    path.write_text("epochz: 3\n", encoding="utf-8")
    with pytest.raises(EvalkitError, match=r"mine.yaml: unknown field 'epochz'"):
        load_recipe_spec(str(path))
    with pytest.raises(EvalkitError, match="unknown recipe 'nope'"):
        load_recipe_spec("nope")


def test_batch_is_reached_by_gradient_accumulation() -> None:
    recipe = resolve(load_recipe_spec("lima"), SMALL)
    assert batch_layout(recipe, 1) == (8, 8) and batch_layout(recipe, 2) == (8, 4) and batch_layout(recipe, 8) == (8, 1)
    assert batch_layout(resolve(load_recipe_spec("lima", {"batch_size": "4"}), SMALL), 2) == (2, 1)
    with pytest.raises(EvalkitError, match="not a multiple"):
        batch_layout(recipe, 3)
