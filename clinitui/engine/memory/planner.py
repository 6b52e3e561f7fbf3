"""The memory planner: budget + model → micro-batch, accumulation, precision, checkpointing, freeze.

It runs before anything is loaded, from architecture numbers alone (``engine/memory/shapes.py``), and returns
a :class:`Plan` that fits the budget or raises a ``ConfigError`` with the numbers and what to try instead.

Peak memory of one training step is modelled as

    overhead + margin × (weights + gradients + AdamW states + 16-bit weight copies
                         + saved activations + transient working memory)

* weights: every parameter in fp32 (autocast keeps fp32 master weights);
* gradients (4 B) and AdamW's two moments (8 B) for the trainable set only;
* under 16-bit autocast, the cast copies of the backbone's matrices when gradients flow through
  them (full fine-tuning: autocast's cache; LoRA: saved for the input gradient);
* activations saved for backward, per token and layer (Korthikanti et al. 2022, with fused
  attention on CUDA, and on CPU without attention dropout; else PyTorch's math attention, whose
  saved scores grow with the sequence length); docs/memory.md: the formulas against measurements;
* with gradient checkpointing only each layer's input is kept, plus one layer recomputed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from clinitui.config.schema import BudgetConfig, RunConfig
from clinitui.engine.memory import decoder
from clinitui.engine.memory.shapes import ModelShape
from clinitui.engine.runtime.cpu import cpu_precision
from clinitui.errors import ConfigError
from clinitui.fmt import fmt_params

MiB = 1 << 20
GiB = 1 << 30
DEFAULT_OVERHEAD = {"cuda": 450 * MiB, "cpu": 600 * MiB}  # CUDA context + cuBLAS / Python + torch runtime
# CUDA: the caching allocator's rounding and fragmentation; CPU: memory the C allocator keeps after
# freeing (a LoRA run's peak RSS reached 1.17 × the unmargined estimate, docs/memory.md)
MARGIN = {"cuda": 1.10, "cpu": 1.15}
GOOD_MICRO_BATCH = 8  # below this a GPU idles: worth recomputing activations to go higher


@dataclass
class DeviceInfo:
    """The hardware being planned for (a real device, or the budget's card when it is not here)."""

    kind: str  # "cpu" or "cuda"
    total_bytes: int | None
    name: str
    bf16: bool | None = None  # None: not known (planning for a card that is not visible)
    present: bool = True


@dataclass
class Estimate:
    """Peak bytes of one training step, by component."""

    weights: int
    gradients: int
    optimizer: int
    weight_copies: int
    activations: int
    transient: int
    overhead: int
    margin: float

    @property
    def tensors(self) -> int:
        return (self.weights + self.gradients + self.optimizer + self.weight_copies + self.activations
                + self.transient)

    @property
    def total(self) -> int:
        return self.overhead + int(self.margin * self.tensors)

    def as_dict(self) -> dict[str, int]:
        return {**{k: v for k, v in asdict(self).items() if k != "margin"}, "total": self.total}


@dataclass
class Plan:
    """What the run will do to fit its budget; stored in ``run_started`` as ``plan``."""

    micro_batch: int
    grad_accumulation: int
    effective_batch: int
    max_length: int
    precision: str
    gradient_checkpointing: bool
    freeze: str
    eval_batch: int
    device: str
    budget_name: str
    available_bytes: int
    estimate: Estimate
    model: ModelShape
    notes: list[str] = field(default_factory=list)
    eval_peak_bytes: int = 0  # estimated peak of a validation pass at ``eval_batch``
    world_size: int = 1  # training processes (torchrun): effective batch = micro × accumulation × world

    @property
    def trainable_params(self) -> int:
        return self.model.trainable_params(self.freeze)

    def as_dict(self) -> dict[str, Any]:
        return {
            "micro_batch": self.micro_batch, "grad_accumulation": self.grad_accumulation,
            "effective_batch": self.effective_batch, "max_length": self.max_length, "precision": self.precision,
            "gradient_checkpointing": self.gradient_checkpointing, "freeze": self.freeze,
            "eval_batch": self.eval_batch, "device": self.device, "budget": self.budget_name,
            "available_bytes": self.available_bytes, "estimated_peak_bytes": self.estimate.total,
            "estimated_eval_peak_bytes": self.eval_peak_bytes,
            "estimate": self.estimate.as_dict(), "trainable_params": self.trainable_params,
            "total_params": self.model.total_params, "model": self.model.as_dict(), "notes": list(self.notes),
            "world_size": self.world_size,
        }


# -- the arithmetic -----------------------------------------------------------------------------
def activation_bytes_per_token(shape: ModelShape, freeze: str, act: int, fused_attention: bool, seq: int,
                               mask: int = 1) -> int:
    """Bytes saved for backward per token in one encoder layer (without checkpointing).

    ``act`` is the activation width (4 for fp32, 2 under 16-bit autocast); the residual stream
    (LayerNorm inputs) stays fp32 under autocast. Dropout masks take ``mask`` bytes: 1 with
    CUDA's fused dropout (bool), the activation width on CPU (a float noise tensor).
    """
    h, f, res = shape.hidden, shape.ffn, 4
    if freeze == "backbone":
        return 0  # nothing in the backbone needs a gradient: autograd saves nothing there
    # math attention keeps softmax output, dropout mask and dropped scores per head and key
    attention = 0 if fused_attention else shape.heads * seq * (2 * act + mask)
    if freeze == "lora":
        t = shape.lora_targets
        # LN inputs; q, k, v and attention output (attention backward); GELU input; LoRA inputs
        # (after LoRA's dropout). Frozen projections keep no input: their weight gradient is unused.
        return res * 2 * h + act * (4 * h + f + t * h) + mask * (2 + t) * h + attention
    # top-1 experts: the routed copy of the tokens and the gate-scaled expert output
    experts = act * 2 * h if shape.experts else 0
    # LN inputs; QKV input, q, k, v, attention output, FFN input; GELU input and output; 2 masks.
    return res * 2 * h + act * (6 * h + 2 * f) + mask * 2 * h + attention + experts


def activation_bytes(shape: ModelShape, freeze: str, micro: int, seq: int, act: int, fused_attention: bool,
                     checkpointing: bool, mask: int = 1, adapter_fused: bool | None = None) -> int:
    """Activations saved for backward in one micro-batch of ``micro`` × ``seq`` tokens."""
    tokens = micro * seq
    per_layer = activation_bytes_per_token(shape, freeze, act, fused_attention, seq, mask)
    if per_layer == 0:
        body = 0
    elif checkpointing:
        # each layer's input (fp32) + one layer recomputed in backward; with LoRA the encoder's
        # output and LoRA-input copies stay too (measured: 3 more hidden-sized tensors)
        kept = shape.layers + (3 if freeze == "lora" else 0)
        body = kept * 4 * shape.hidden + per_layer
    else:
        body = shape.layers * per_layer
    # embedding sum's dropout mask, final/embedding LayerNorm input, token ids (int64)
    embeddings = (mask + 4) * shape.hidden + 8 if freeze == "none" else 0
    adapter = 0
    if shape.adapter_level == "token":  # LN input and output, ~6 × its width (q, k, v, scaled q/k, output)
        fused = fused_attention if adapter_fused is None else adapter_fused  # the adapter keeps its dropout
        attention = 0 if fused else seq * (2 * act + mask)
        adapter = 4 * shape.hidden + act * (shape.hidden + 6 * shape.adapter_width) + attention
    pooled = micro * shape.hidden * 4 * 8  # pooling, adapter, dropout, head: a few vectors per sequence
    return tokens * (body + embeddings + adapter) + pooled


def transient_bytes(shape: ModelShape, micro: int, seq: int, act: int, fused_attention: bool) -> int:
    """Working memory of the widest layer in forward/backward, beyond what is saved."""
    scores = 0 if fused_attention else micro * shape.heads * seq * seq * 4 * 2  # scores and their gradient
    return micro * seq * act * (2 * shape.ffn + 4 * shape.hidden) + scores


def estimate(shape: ModelShape, *, freeze: str, micro: int, seq: int, precision: str, device: str,
             checkpointing: bool, overhead: int | None = None) -> Estimate:
    """Peak memory of one training step (see the module docstring; decoders: engine/memory/decoder.py)."""
    if shape.decoder is not None:
        return decoder.estimate(shape, freeze=freeze, micro=micro, seq=seq, precision=precision, device=device,
                                checkpointing=checkpointing, margin=MARGIN[device], estimate_cls=Estimate,
                                overhead=DEFAULT_OVERHEAD[device] if overhead is None else overhead)
    act = 4 if precision == "fp32" or device == "cpu" else 2  # CPU bf16 autocast keeps many outputs in fp32
    cuda = device == "cuda"  # CUDA: memory-efficient SDPA; CPU: math attention when dropout is on
    fused = cuda or shape.fused_attention_cpu
    trainable = shape.trainable_params(freeze)
    copies = 2 * shape.matmul_params if precision != "fp32" and freeze != "backbone" else 0
    return Estimate(
        weights=4 * shape.total_params, gradients=4 * trainable, optimizer=8 * trainable, weight_copies=copies,
        activations=activation_bytes(shape, freeze, micro, seq, act, fused, checkpointing, 1 if cuda else act, cuda),
        transient=transient_bytes(shape, micro, seq, act, fused),
        overhead=DEFAULT_OVERHEAD[device] if overhead is None else overhead, margin=MARGIN[device],
    )


def eval_estimate(shape: ModelShape, *, freeze: str, batch: int, seq: int, precision: str, device: str,
                  overhead: int | None = None) -> int:
    """Peak of an evaluation pass in the middle of training (optimizer states still held)."""
    act = 4 if precision == "fp32" or device == "cpu" else 2  # CPU evaluates in fp32 (runtime/precision.py)
    trainable = shape.trainable_params(freeze)
    tensors = 4 * shape.total_params + 8 * trainable + transient_bytes(shape, batch, seq, act, device == "cuda")
    if shape.decoder is not None:
        tensors = decoder.eval_tensors(shape, freeze=freeze, batch=batch, seq=seq, precision=precision, device=device)
    return (DEFAULT_OVERHEAD[device] if overhead is None else overhead) + int(MARGIN[device] * tensors)


# -- the choice ---------------------------------------------------------------------------------
def gib(n: int) -> str:
    """Bytes as GiB (or MiB below 1 GiB), the units NVML and nvidia-smi use."""
    return f"{n / GiB:.2f} GiB" if n >= GiB else f"{n / MiB:.1f} MiB"


def resolve_precision(budget: BudgetConfig, device: DeviceInfo) -> str:
    if device.kind == "cpu":
        return cpu_precision(budget.precision)  # bf16 only when asked (runtime/cpu.py)
    if budget.precision != "auto":
        return budget.precision
    if device.bf16 is None:
        return "fp16"  # not knowable without the card; same bytes as bf16
    return "bf16" if device.bf16 else "fp16"


def available_bytes(budget: BudgetConfig, device: DeviceInfo) -> int:
    limits = [x for x in (budget.memory_bytes, device.total_bytes) if x]
    if not limits:
        raise ConfigError(f"budget '{budget.name}' has no memory_bytes and the device size is unknown; "
                          "set --set budget.memory_bytes=...")
    return min(limits)


def _micro_candidates(config: RunConfig) -> list[int]:
    """Micro-batches to try, largest first; divisors of the effective batch keep it exact."""
    t, b = config.train, config.budget
    if t.micro_batch:
        return [t.micro_batch]  # asked for explicitly: check it, do not change it
    per_rank = max(1, t.batch_size // config.dist.world_size)  # each process's share of the effective batch
    cap = min(per_rank, b.max_micro_batch)
    return [m for m in range(cap, 0, -1) if per_rank % m == 0]


def plan_run(config: RunConfig, shape: ModelShape, device: DeviceInfo, freeze: str) -> Plan:
    """The plan for ``config`` on ``device``, or ConfigError with the numbers when nothing fits."""
    b, t = config.budget, config.train
    kind = device.kind
    precision = resolve_precision(b, device)
    seq = min(t.max_length, b.max_length)
    limit = available_bytes(b, device)
    freezes = [freeze]
    if freeze == "none" and shape.pretrained and b.allow_freeze:
        freezes.append("backbone")
    notes = [] if device.present else [f"planned for the budget's {kind} device, which is not visible here"]
    if shape.source.startswith("assumed"):
        notes.append(f"architecture of '{shape.backbone}' unknown here: {shape.source}")

    def fits(fz: str, m: int, ckpt: bool) -> bool:
        return estimate(shape, freeze=fz, micro=m, seq=seq, precision=precision, device=kind,
                        checkpointing=ckpt, overhead=b.overhead_bytes).total <= limit

    forced = bool(config.model.backbone_options.get("gradient_checkpointing"))  # asked for by the user
    for fz in freezes:
        allowed = (b.gradient_checkpointing or forced) and shape.checkpointing and fz != "backbone"
        ckpt_options = [True] if forced and allowed else [False] + ([True] if allowed else [])
        best = {c: next((m for m in _micro_candidates(config) if fits(fz, m, c)), None) for c in ckpt_options}
        plain, recompute = best.get(False), best.get(True)
        if plain is None and recompute is None:
            continue
        wanted = min(GOOD_MICRO_BATCH, max(_micro_candidates(config)))
        use_ckpt = plain is None or (recompute is not None and plain < wanted and recompute >= 2 * plain)
        micro = recompute if use_ckpt else plain
        if fz != freeze:
            notes.append("full fine-tuning does not fit this budget: backbone frozen (budget.allow_freeze)")
        if use_ckpt:
            notes.append("gradient checkpointing on: activations recomputed in backward")
        est = estimate(shape, freeze=fz, micro=micro, seq=seq, precision=precision, device=kind,
                       checkpointing=use_ckpt, overhead=b.overhead_bytes)
        def eval_peak(e: int) -> int:
            return eval_estimate(shape, freeze=fz, batch=e, seq=seq, precision=precision, device=kind,
                                 overhead=b.overhead_bytes)

        eval_batch = next((e for e in range(t.eval_batch_size, 0, -1) if eval_peak(e) <= limit), 1)
        world = config.dist.world_size
        accum = -(-t.batch_size // (micro * world))
        effective = micro * accum * world if world > 1 else t.batch_size
        return Plan(micro_batch=micro, grad_accumulation=accum, effective_batch=effective,
                    world_size=world,
                    max_length=seq, precision=precision, gradient_checkpointing=use_ckpt, freeze=fz,
                    eval_batch=eval_batch, device=kind, budget_name=b.name, available_bytes=limit,
                    estimate=est, model=shape, notes=notes, eval_peak_bytes=eval_peak(eval_batch))
    raise ConfigError(refusal(config, shape, device, freeze, precision, seq, limit))


def refusal(config: RunConfig, shape: ModelShape, device: DeviceInfo, freeze: str, precision: str, seq: int,
            limit: int) -> str:
    """One line: what was asked, what it needs at the smallest setting, what the budget allows, what to try."""
    b = config.budget
    micro = min(_micro_candidates(config))
    ckpt = b.gradient_checkpointing and shape.checkpointing and freeze != "backbone"
    need = estimate(shape, freeze=freeze, micro=micro, seq=seq, precision=precision, device=device.kind,
                    checkpointing=ckpt, overhead=b.overhead_bytes).total
    what = {"none": "full fine-tuning", "lora": "LoRA", "backbone": "a frozen backbone"}[freeze]
    if freeze == "none" and shape.pretrained:
        tips = "try --adapter lora or --set model.freeze=backbone"
    elif freeze == "none":
        tips = "try a smaller model (--set model.backbone_options.size=tiny) or a lower --set train.max_length"
    elif freeze == "lora":
        tips = "try --set model.freeze=backbone or a lower --set train.max_length"
    else:
        tips = "try a lower --set train.max_length or a larger --budget"
    if shape.decoder is not None:
        tips = decoder.refusal_tips(shape)
    if config.train.micro_batch:
        tips = f"unset train.micro_batch (the planner picks one) or {tips}"
    how = f"micro-batch {micro}, {seq} tokens, {precision}" + (", gradient checkpointing" if ckpt else "")
    return (f"{shape.backbone} + {what} needs ≈ {gib(need)} at {how}; budget {b.name} allows {gib(limit)}; {tips}")


def describe_plan(plan: Plan) -> list[str]:
    """Human-readable lines for ``clinitui train --dry-run`` (front ends print them)."""
    e = plan.estimate
    m = plan.model
    lines = [
        f"model       {m.backbone} ({m.source}): {fmt_params(plan.trainable_params)} trainable / {fmt_params(m.total_params)} parameters, "
        f"freeze={plan.freeze}" + (f" (at most: the vocabulary learnt from the training split may have fewer than "
                                   f"{m.vocab:,} pieces, up to {fmt_params(m.vocab * m.hidden)} parameters fewer)"
                                   if not m.pretrained else ""),
        f"budget      {plan.budget_name}: {gib(plan.available_bytes)} on {plan.device}",
        f"plan        micro-batch {plan.micro_batch} × accumulation {plan.grad_accumulation} "
        + (f"× {plan.world_size} processes " if plan.world_size > 1 else "")
        + f"(effective batch {plan.effective_batch}), {plan.max_length} tokens, {plan.precision}, "
        f"gradient checkpointing {'on' if plan.gradient_checkpointing else 'off'}, eval batch {plan.eval_batch}",
        f"peak        ≈ {gib(e.total)} of {gib(plan.available_bytes)} "
        f"({100 * e.total / plan.available_bytes:.0f} %)",
        f"  weights {gib(e.weights)}, gradients {gib(e.gradients)}, AdamW {gib(e.optimizer)}, "
        f"16-bit copies {gib(e.weight_copies)}",
        f"  activations {gib(e.activations)}, working memory {gib(e.transient)}, overhead {gib(e.overhead)}, "
        f"margin ×{e.margin:.2f}",
    ]
    return lines + [f"note        {n}" for n in plan.notes]


# -- the entry point the engine and the CLI call --------------------------------------------------
def probe_device(budget: BudgetConfig) -> DeviceInfo:
    """The device this run would use, or the budget's card when it is not visible here."""
    import psutil

    host = DeviceInfo("cpu", psutil.virtual_memory().total, "host memory")
    if budget.device == "cpu":
        return host
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        return DeviceInfo("cuda", int(props.total_memory), props.name, bool(torch.cuda.is_bf16_supported()))
    if budget.device == "cuda":
        return DeviceInfo("cuda", None, "CUDA GPU (not visible here)", None, present=False)
    return host


def plan_for_config(config: RunConfig, n_labels: int = 2, device: DeviceInfo | None = None) -> Plan:
    """Architecture numbers → plan, loading no weights; raises ConfigError when nothing fits."""
    from clinitui.engine.memory.shapes import model_shape
    from clinitui.models.classifier import effective_freeze, resolve_backbone
    from clinitui.models.pretrained import expand_backbone_folder

    config = expand_backbone_folder(config)  # a `clinitui pretrain` folder plans as its entry and size
    shape = model_shape(config.model, n_labels)  # raises the "did you mean" error for unknown names
    try:
        backbone_cls, _ = resolve_backbone(config.model.backbone)
    except ConfigError:  # a study encoder whose registry file is absent: its numbers are known
        backbone_cls = type("KnownEncoder", (), {"pretrained": True})
    freeze = effective_freeze(config.model, backbone_cls)
    if freeze == "lora" and shape.lora_params == 0:
        shape = model_shape(config.model, n_labels, freeze="lora")
    device = device or probe_device(config.budget)
    notes = []
    if shape.decoder is not None:  # CUDA for 8/4-bit; a note on the weights (engine/memory/decoder.py)
        notes = [decoder.check_device(shape, device.kind, config.budget.name, resolve_precision(config.budget, device))]
    plan = plan_run(config, shape, device, freeze)
    plan.notes[:0] = notes
    return plan_windows(plan, config)


def plan_windows(plan: Plan, config: RunConfig) -> Plan:
    """``--long-notes chunk``: micro-batches and eval batches count windows, and one note brings
    up to ``data.max_chunks`` of them into a forward pass whatever the batch: that worst case must
    fit too (ConfigError with the numbers otherwise)."""
    d = config.data
    if d.long_notes != "chunk":
        return plan
    worst = max(plan.micro_batch, d.max_chunks)
    if worst > plan.micro_batch:
        need = estimate(plan.model, freeze=plan.freeze, micro=worst, seq=plan.max_length, precision=plan.precision,
                        device=plan.device, checkpointing=plan.gradient_checkpointing,
                        overhead=config.budget.overhead_bytes).total
        if need > plan.available_bytes:
            fits = max(1, d.max_chunks * plan.micro_batch // worst)
            raise ConfigError(f"--long-notes chunk: a note of {d.max_chunks} windows of {plan.max_length} tokens needs "
                              f"≈ {gib(need)} in one step; budget {plan.budget_name} allows {gib(plan.available_bytes)}; "
                              f"lower --set data.max_chunks (≤ {fits} fits) or train.max_length")
    plan.notes.append(f"--long-notes chunk: micro-batch and eval batch count windows; a note brings up to "
                      f"{d.max_chunks} windows (train.max_length {plan.max_length}) into one forward pass")
    return plan
