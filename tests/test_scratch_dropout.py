"""The from-scratch encoder's dropout: the same Bernoulli mask as nn.Dropout, drawn faster on CPU."""

from __future__ import annotations

import torch

from clinitui.models.backbones.scratch_transformer import Dropout, ScratchOptions, ScratchTransformer


def test_dropout_keeps_one_minus_p_of_the_values_scaled_and_is_the_identity_in_eval():
    torch.manual_seed(0)
    x = torch.ones(200, 500)
    drop = Dropout(0.1)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.9) < 0.005  # 100,000 draws: sd 0.001
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.9))
    drop.eval()
    assert drop(x) is x
    assert Dropout(0.0).train()(x) is x


def test_dropout_gradient_flows_through_the_kept_values_only():
    torch.manual_seed(1)
    x = torch.randn(64, 32, requires_grad=True)
    y = Dropout(0.5)(x)
    y.sum().backward()
    kept = y.detach() != 0
    assert torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], 2.0))
    assert torch.count_nonzero(x.grad[~kept]) == 0


def test_attention_dropout_is_its_own_option_and_off_by_default():
    model = ScratchTransformer(ScratchOptions(size="tiny"), vocab_size=120, pad_id=0)
    assert {layer.attn.dropout for layer in model.layers} == {0.0}
    model = ScratchTransformer(ScratchOptions(size="tiny", attention_dropout=0.2), vocab_size=120, pad_id=0)
    assert {layer.attn.dropout for layer in model.layers} == {0.2}
    assert {layer.dropout.p for layer in model.layers} == {0.1}
