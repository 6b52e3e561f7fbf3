"""LoRA: PEFT layers injected into the attention projections, only ``lora_*`` weights train."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from clinitui.errors import ConfigError
from clinitui.models.adapters.lora import LoRA, LoRAOptions
from clinitui.models.backbones.hf import HFBackbone, HFOptions
from clinitui.models.backbones.scratch_transformer import ScratchOptions, ScratchTransformer
from clinitui.models.classifier import Classifier, apply_freeze, count_parameters


def classifier(backbone, **options) -> Classifier:
    adapter = LoRA(backbone.hidden_size, LoRAOptions(**options))
    model = Classifier(backbone, adapter, 3, "mean", 0.0)
    adapter.attach(model)
    apply_freeze(model, "lora")
    return model


def scratch():
    torch.manual_seed(0)
    return ScratchTransformer(ScratchOptions(size="tiny", dropout=0.0), 40, 0)


def tiny_roberta():
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=40, pad_token_id=1)
    return HFBackbone(RobertaModel(config, add_pooling_layer=False), HFOptions())


@pytest.mark.parametrize("make, targets", [
    (scratch, {"qkv", "proj"}),
    (tiny_roberta, {"query", "key", "value", "dense"}),
])
def test_only_lora_weights_and_head_train(make, targets):
    model = classifier(make(), r=4)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n in trainable if "lora_A" in n}
    assert adapted == targets
    layers = 2
    per_layer = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and ".0." in n and "lora_" in n)
    assert count_parameters(model)["trainable"] == layers * per_layer + model.head.weight.numel() + model.head.bias.numel()
    if make is tiny_roberta:  # attention.output.dense is adapted, the feed-forward's output.dense is not
        assert not any("intermediate" in n or ("output.dense" in n and "attention" not in n) for n in trainable)


@pytest.mark.parametrize("make", [scratch, tiny_roberta])
def test_lora_starts_as_the_base_model_and_its_gradients_flow(make):
    base = make().eval()
    ids = torch.randint(2, 40, (2, 6))
    mask = torch.ones_like(ids)
    before = base(ids, mask).detach()
    model = classifier(base, r=4, dropout=0.0)
    assert torch.allclose(model.backbone(ids, mask), before, atol=1e-6)  # B = 0 at init
    model.train()
    model(ids, mask).sum().backward()
    grads = {n: p.grad for n, p in model.named_parameters() if "lora_B" in n}
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads.values())
    assert all(p.grad is None for n, p in model.backbone.named_parameters() if "lora_" not in n)


def test_target_modules_option_and_its_errors():
    model = classifier(scratch(), target_modules=["qkv"])
    assert {n.split(".")[-4] for n, p in model.named_parameters() if "lora_A" in n} == {"qkv"}
    with pytest.raises(ConfigError, match="target_modules"):
        classifier(scratch(), target_modules=["no_such_layer"])

    class NoAttention(torch.nn.Module):
        hidden_size = 8

        def __init__(self):
            super().__init__()
            self.mlp = torch.nn.Linear(8, 8)

    with pytest.raises(ConfigError, match="no attention projections"):
        classifier(NoAttention())


def test_importing_the_registries_loads_neither_peft_nor_transformers():
    code = ("import sys; from clinitui.models import registry; registry.entries('backbone'); "
            "registry.entries('adapter'); print(sorted(m for m in ('peft', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
