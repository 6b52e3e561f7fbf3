"""scratch-moe: top-1 routing, capacity and dropped tokens, the load-balancing loss, and its logging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from clinitui.config.schema import RunConfig
from clinitui.engine.recipes.train import execute, prepare
from clinitui.models.backbones.scratch_moe import MoEOptions, ScratchMoE, SwitchFeedForward
from clinitui.runs import new_run_dir

DIM = 16


def switch(experts=4, capacity_factor=1.0, **kw) -> SwitchFeedForward:
    torch.manual_seed(0)
    return SwitchFeedForward(DIM, 32, MoEOptions(experts=experts, capacity_factor=capacity_factor, dropout=0.0, **kw))


def route_all_to(layer: SwitchFeedForward, expert: int) -> None:
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.weight[expert, 0] = 50.0  # with x[..., 0] > 0 every token picks `expert`


def test_top1_routing_sends_each_token_through_exactly_one_expert():
    layer = switch().train()
    seen = []
    for e, ffn in enumerate(layer.experts):
        ffn.register_forward_hook(lambda m, inp, out, e=e: seen.append((e, inp[0].shape[0])))
    layer.options.capacity_factor = 100.0  # no dropping: every token is processed once
    x = torch.randn(2, 10, DIM)
    out = layer(x)
    assert sum(n for _, n in seen) == 20
    probs = torch.softmax(layer.router(x.reshape(-1, DIM)), -1)
    gate, expert = probs.max(-1)
    manual = torch.stack([layer.experts[int(e)](t) * g for t, e, g in zip(x.reshape(-1, DIM), expert, gate)])
    assert torch.allclose(out.reshape(-1, DIM), manual, atol=1e-6)


def test_tokens_over_capacity_are_dropped_and_padding_takes_no_capacity():
    layer = switch(experts=4, capacity_factor=1.0).train()
    route_all_to(layer, 2)
    x = torch.randn(2, 10, DIM)
    x[..., 0] = x[..., 0].abs() + 0.1
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, 6:] = 0  # 16 real tokens → capacity ceil(1.0 × 16 / 4) = 4
    layer.token_mask = mask
    out = layer(x)
    processed = out.abs().sum(-1) > 0
    assert int(processed.sum()) == 4 and processed[0, :4].all()  # first four in batch order
    assert not processed[1, 6:].any()  # padding: never routed
    assert float(layer.dropped_fraction) == pytest.approx(12 / 16)
    layer.eval()  # evaluation: no capacity limit, so a prediction never depends on the batch
    assert int((layer(x).abs().sum(-1) > 0).sum()) == 16


def test_dropped_tokens_pass_through_the_residual_unchanged():
    torch.manual_seed(0)
    backbone = ScratchMoE(MoEOptions(size="tiny", experts=2, capacity_factor=0.01, dropout=0.0), 50, 0).train()
    layer = backbone.layers[0]
    x = torch.randn(1, 8, backbone.hidden_size)
    key_mask = torch.ones(1, 1, 1, 8, dtype=torch.bool)
    layer.ffn.token_mask = torch.ones(1, 8)
    after_attn = x + layer.attn(layer.ln1(x), key_mask)
    out = layer(x, key_mask)
    dropped = (out - after_attn).abs().sum(-1) == 0  # capacity 1 per expert: at most 2 tokens processed
    assert int(dropped.sum()) >= 6


def test_balance_loss_is_positive_differentiable_and_prefers_even_routing():
    layer = switch(experts=4).train()
    x = torch.randn(4, 12, DIM)
    layer(x)
    assert layer.aux_loss > 0
    layer.aux_loss.backward()
    assert layer.router.weight.grad.abs().sum() > 0
    route_all_to(layer, 1)
    x[..., 0] = x[..., 0].abs() + 0.1
    layer(x)
    collapsed = float(layer.aux_loss.detach())
    with torch.no_grad():
        layer.router.weight.zero_()  # uniform probabilities: the loss is at its minimum, 1
    layer(x)
    assert float(layer.aux_loss.detach()) == pytest.approx(1.0, abs=1e-5) and collapsed > 3.5


def test_backbone_auxiliary_loss_sums_layers_times_coefficient():
    torch.manual_seed(0)
    backbone = ScratchMoE(MoEOptions(size="tiny", experts=3, aux_loss_coef=0.5), 60, 0).train()
    ids = torch.randint(1, 60, (3, 9))
    backbone(ids, torch.ones_like(ids))
    per_layer = [m.aux_loss for m in backbone.moe_layers()]
    assert len(per_layer) == 2  # tiny: two layers, both MoE
    assert torch.allclose(backbone.auxiliary_loss(), 0.5 * sum(per_layer))
    assert ScratchMoE(MoEOptions(size="tiny", aux_loss_coef=0.0), 60, 0).auxiliary_loss() is None


def test_activation_checkpointing_gives_the_same_gradients():
    from clinitui.engine.memory.apply import enable_gradient_checkpointing

    def grads(checkpointing: bool):
        torch.manual_seed(0)
        backbone = ScratchMoE(MoEOptions(size="tiny", experts=2, dropout=0.0), 60, 0).train()
        if checkpointing:
            assert enable_gradient_checkpointing(backbone)
        ids = torch.randint(1, 60, (3, 9))
        mask = torch.ones_like(ids)
        mask[0, 5:] = 0
        (backbone(ids, mask).sum() + backbone.auxiliary_loss()).backward()
        return [p.grad.clone() for p in backbone.parameters() if p.grad is not None]

    plain, recomputed = grads(False), grads(True)
    assert len(plain) == len(recomputed) and all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain, recomputed))


def test_training_adds_and_logs_the_auxiliary_loss(tmp_path):
    config = RunConfig(**{
        "data": {"demo_size": 200},
        "model": {"backbone": "scratch-moe", "adapter": "linear",
                  "backbone_options": {"size": "tiny", "vocab_size": 300, "experts": 2}},
        "train": {"epochs": 1, "max_steps": 3, "log_every": 1, "max_length": 32, "batch_size": 8, "threads": 1},
    })
    payload = execute(prepare(config), new_run_dir(tmp_path, "scratch-moe", "linear"))
    events = [json.loads(line) for line in (Path(payload["run_dir"]) / "events.jsonl").read_text().splitlines()]
    steps = [e for e in events if e["type"] == "step"]
    assert len(steps) == 3 and all(e["aux_loss"] > 0 for e in steps)
    started = next(e for e in events if e["type"] == "run_started")
    assert started["backbone"]["experts"] == 2
    assert payload["params"]["trainable"] == payload["params"]["total"]  # from scratch: everything trains
