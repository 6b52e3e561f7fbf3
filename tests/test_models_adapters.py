"""Adapter behaviour: shapes, options, identity at init, GRN's gate, TinyAttention's padding mask."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from clinitui.errors import ConfigError
from clinitui.models import registry
from clinitui.models.classifier import Classifier, parse_options

DIM = 24
ADAPTERS = sorted(registry.entries("adapter"))


def make(name: str, **options):
    cls = registry.get("adapter", name).cls
    torch.manual_seed(0)
    return cls(DIM, cls.Options(**options)).eval()


@pytest.mark.parametrize("name", ADAPTERS)
def test_every_adapter_keeps_width_and_documents_its_options(name):
    adapter = make(name)
    fields = type(adapter).Options.model_fields
    assert all(f.description for f in fields.values()), f"{name}: every option needs a description"
    assert registry.registry_names("adapter")[name], f"{name}: the class needs a docstring"
    if adapter.level == "token":
        x, mask = torch.randn(3, 7, DIM), torch.ones(3, 7, dtype=torch.long)
        assert adapter(x, mask).shape == (3, 7, DIM)
    else:
        assert adapter.level == "pooled"
        assert adapter(torch.randn(3, DIM)).shape == (3, DIM)
    with pytest.raises(ConfigError, match="valid options"):
        parse_options(type(adapter), {"no_such_option": 1}, f"adapter '{name}'")


@pytest.mark.parametrize("name", [n for n in ADAPTERS if "dropout" in registry.get("adapter", n).cls.Options.model_fields])
def test_dropout_option_is_validated(name):
    with pytest.raises(ConfigError, match="dropout"):
        parse_options(registry.get("adapter", name).cls, {"dropout": 1.5}, f"adapter '{name}'")


def test_bottleneck_adapter_is_identity_at_init_and_learns_away_from_it():
    adapter = make("adapter", bottleneck=8)
    x = torch.randn(5, DIM)
    assert torch.equal(adapter(x), x)
    assert adapter.down.weight.shape == (8, DIM) and adapter.up.weight.shape == (DIM, 8)
    adapter.train()
    F.mse_loss(adapter(x), torch.zeros_like(x)).backward()
    assert adapter.up.weight.grad.abs().sum() > 0  # the zero projection still receives gradient


def test_lightweight_adapter_starts_as_layernorm_of_the_input():
    adapter = make("lightweight", bottleneck=4)
    x = torch.randn(5, DIM)
    assert torch.allclose(adapter(x), F.layer_norm(x, (DIM,)), atol=1e-6)
    assert not any(isinstance(m, (torch.nn.ReLU, torch.nn.GELU)) for m in adapter.modules())  # no activation


def test_grn_gate_shapes_and_gating():
    grn = make("grn", hidden=10, dropout=0.0)
    assert grn.w2.weight.shape == (10, DIM) and grn.w1.weight.shape == (10, 10)
    assert grn.gate.weight.shape == (DIM, 10) and grn.value.weight.shape == (DIM, 10)
    x = torch.randn(4, DIM)
    with torch.no_grad():
        grn.gate.bias.fill_(-50.0)  # gate closed: only the skip path remains
        assert torch.allclose(grn(x), F.layer_norm(x, (DIM,), grn.norm.weight, grn.norm.bias), atol=1e-5)
        grn.gate.bias.fill_(50.0)  # gate open: skip + value path
        eta1 = grn.w1(F.elu(grn.w2(x)))
        assert torch.allclose(grn(x), grn.norm(x + grn.value(eta1)), atol=1e-5)


def test_tinyattention_padding_never_changes_real_tokens():
    adapter = make("tinyattention", width=8, dropout=0.0)
    real = torch.randn(1, 5, DIM)
    alone = adapter(real, torch.ones(1, 5, dtype=torch.long))
    padded = torch.cat([real, 100 * torch.randn(1, 9, DIM)], dim=1)  # arbitrary states at padding positions
    mask = torch.tensor([[1] * 5 + [0] * 9])
    assert torch.allclose(adapter(padded, mask)[:, :5], alone, atol=1e-6)
    assert adapter.qkv.weight.shape == (3 * 8, DIM) and adapter.proj.weight.shape == (DIM, 8)


def test_tinyattention_starts_close_to_identity():
    adapter = make("tinyattention")
    x = torch.randn(2, 6, DIM)
    assert (adapter(x, torch.ones(2, 6)) - x).abs().max() < 0.05


class Embed(torch.nn.Module):
    """A backbone stand-in: token states from an embedding table (no attention, no position)."""

    hidden_size = DIM

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(50, DIM)

    def forward(self, input_ids, attention_mask):
        return self.emb(input_ids)

    def auxiliary_loss(self):
        return None


@pytest.mark.parametrize("name", ADAPTERS)
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_prediction_of_a_note_does_not_depend_on_batch_padding(name, pooling):
    adapter = make(name)
    torch.manual_seed(1)
    model = Classifier(Embed(), adapter, 3, pooling, 0.0).eval()
    ids = torch.tensor([[2, 7, 9, 3]])
    alone = model(ids, torch.ones_like(ids))
    batch = torch.tensor([[2, 7, 9, 3, 0, 0, 0], [2, 4, 5, 6, 8, 11, 3]])
    mask = (torch.arange(7) < torch.tensor([[4], [7]])).long()
    assert torch.allclose(model(batch, mask)[0], alone[0], atol=1e-6)
