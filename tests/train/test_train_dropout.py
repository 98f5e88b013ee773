"""Residual dropout: rates rise linearly by layer, act only in train mode, and leave no trace in checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from evalkit.train.dropout import attach_residual_dropout, decoder_layers, layer_rates


@pytest.fixture()
def four_layer_model(tmp_path: Path):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2
    )
    return LlamaForCausalLM(config)


def test_rates_rise_linearly_from_zero_to_the_top_rate() -> None:
    assert layer_rates(4, 0.3) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert layer_rates(32, 0.2)[0] == 0.0 and layer_rates(32, 0.2)[-1] == pytest.approx(0.2)
    assert layer_rates(3, 0.1, "constant") == [0.1, 0.1, 0.1]


def _zero_fractions(model, inputs: torch.Tensor) -> dict[tuple[int, str], float]:
    """Fraction of exactly-zero elements in each layer's attention and MLP branch outputs, seen after our hooks."""
    seen: dict[tuple[int, str], float] = {}
    handles = []
    for index, layer in enumerate(decoder_layers(model)):
        for name in ("self_attn", "mlp"):

            def record(module, args, output, key=(index, name)):
                tensor = output[0] if isinstance(output, tuple) else output
                seen[key] = (tensor == 0).float().mean().item()

            handles.append(getattr(layer, name).register_forward_hook(record))
    model(input_ids=inputs)
    for handle in handles:
        handle.remove()
    return seen


def test_dropout_is_active_only_in_train_mode_and_rises_by_layer(four_layer_model) -> None:
    model = four_layer_model
    inputs = torch.randint(0, 64, (8, 128))
    model.eval()
    with torch.no_grad():
        reference = model(input_ids=inputs).logits
    handles = attach_residual_dropout(model, 0.3, "linear")
    assert len(handles) == 6  # layers 1-3, attention and MLP each; layer 0 has rate 0

    with torch.no_grad():
        assert torch.equal(model(input_ids=inputs).logits, reference)  # eval: hooks are inert
        model.train()
        fractions = _zero_fractions(model, inputs)
        assert not torch.equal(model(input_ids=inputs).logits, reference)
    for (layer, _branch), fraction in fractions.items():
        assert fraction == pytest.approx([0.0, 0.1, 0.2, 0.3][layer], abs=0.02), (layer, fraction)

    for handle in handles:
        handle.remove()
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(input_ids=inputs).logits, reference)


def test_dropout_scales_kept_activations_and_saves_plain_weights(four_layer_model, tmp_path: Path) -> None:
    model = four_layer_model
    before = set(model.state_dict())
    attach_residual_dropout(model, 0.3)
    mlp = decoder_layers(model)[3].mlp
    hidden = torch.randn(2, 50, 64)
    model.eval()
    plain = mlp(hidden)
    model.train()
    dropped = mlp(hidden)
    kept = dropped != 0
    assert torch.allclose(dropped[kept], plain[kept] / 0.7, atol=1e-5)  # inverted dropout keeps the expectation
    model.save_pretrained(tmp_path / "saved")
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "saved")
    assert set(reloaded.state_dict()) == before
    assert not any(module._forward_hooks for module in reloaded.modules())
