"""The planner's arithmetic for decoder LLMs (models/backbones/decoder.py), from config.json numbers alone.

Peak memory of one training step, as for encoders (planner.py), with what differs:

* **weights** by storage: fp32 (4 B), bf16/fp16 (2 B), or bitsandbytes 8-bit (1 B + an fp32
  scale per output row) / 4-bit NF4 with double quantisation (≈ 0.516 B) for the projections,
  the embeddings and norms staying 16-bit; no LM head (the base model is loaded without it);
  LoRA weights fp32;
* **gradients + AdamW** (4 + 8 B) for LoRA, adapter and head only;
* **activations** saved per token and layer with a frozen base: the RMSNorms' fp32 copies,
  q / k / v (k and v repeated to every head for SDPA) and the attention output, the gated MLP's
  gate, activation and up outputs, each LoRA branch's (dropped-out) input and its rank-r
  output; with gradient checkpointing each layer's input plus one layer recomputed;
* **no KV cache**: a classifier reads a note in one forward pass (``use_cache=False``);
* **working memory**: the MLP's widest tensors, one projection dequantised to 16 bits (8/4-bit),
  and on CPU the attention scores of PyTorch's math attention.
"""

from __future__ import annotations

from typing import Any

from clinitui.errors import ConfigError
from clinitui.models import decoder_family as fam


def decoder_numbers(cls: type, options: Any, source: str | None) -> dict[str, Any]:
    """ModelShape fields of a decoder: its folder's config.json, else the named entry's numbers."""
    where = getattr(options, "path", None) or source
    cfg = fam.read_config(where) if where else None
    origin = f"{where}/config.json"
    if cfg is None and getattr(cls, "architecture", None):
        cfg, origin = dict(cls.architecture), f"architecture of {cls.default_source}"
    if cfg is None:
        raise ConfigError(f"decoder '{where or cls.registry_name}': no config.json found; pass the model folder "
                          "(holding config.json and model.safetensors) as --backbone DIR")
    n = fam.architecture_numbers(cfg)
    model_type = str(cfg.get("text_config", cfg).get("model_type", ""))
    total, embedding = fam.base_params(n, model_type)
    shapes = fam.linear_shapes(n)
    decoder = {**n, "model_type": model_type, "quantization": options.quantization,
               "weights_dtype": options.weights_dtype, "lora_dropout": options.lora_dropout, "lora_in": 0,
               "linear_params": n["layers"] * sum(i * o for i, o in (shapes[t] for t in fam.family(model_type)[0])),
               "linear_out": n["layers"] * sum(o for _, o in (shapes[t] for t in fam.family(model_type)[0])),
               "widest": max(i * o for i, o in shapes.values())}
    return dict(source=origin, hidden=n["hidden"], layers=n["layers"], heads=n["heads"], ffn=n["ffn"],
                vocab=n["vocab"], backbone_params=total, embedding_params=embedding, checkpointing=True,
                decoder=decoder)


def add_lora(shape, options: Any, adapter_options: Any = None) -> None:
    """LoRA parameters on the family's targets (the LoRA adapter's options when ``--adapter lora``)."""
    d = shape.decoder
    o = adapter_options
    rank = o.r if o is not None else options.lora_r
    targets = (o.target_modules if o is not None else options.lora_targets) or fam.family(d["model_type"])[0]
    shapes = fam.linear_shapes(d)
    pairs = [shapes.get(t, (d["hidden"], d["hidden"])) for t in targets]  # unknown names: assume square
    d["lora_dropout"] = o.dropout if o is not None else options.lora_dropout
    d["lora_in"] = sum(i for i, _ in pairs)
    d["lora_rank"] = rank
    shape.lora_targets = len(targets)
    shape.lora_params = shape.layers * rank * sum(i + o for i, o in pairs)


def base_weight_bytes(d: dict, precision: str, device: str) -> tuple[int, str]:
    """(bytes, what) of the frozen base model's weights as stored."""
    total, embedding = fam.base_params(d, d["model_type"])
    rest = total - d["linear_params"]
    if d["quantization"] == "4bit":
        return int(d["linear_params"] * fam.QUANT_BYTES["4bit"] + 2 * rest), "4-bit NF4"
    if d["quantization"] == "8bit":
        return int(d["linear_params"] + 4 * d["linear_out"] + 2 * rest), "8-bit"
    width = stored_width(d, precision, device)
    return width * total, {4: "fp32", 2: "16-bit"}[width]


def stored_width(d: dict, precision: str, device: str) -> int:
    """Bytes per unquantised base weight: weights_dtype, or auto (fp32 on CPU, 16-bit on CUDA)."""
    if d["weights_dtype"] != "auto":
        return fam.DTYPE_BYTES[d["weights_dtype"]]
    return 4 if device == "cpu" else 2


def per_token_layer(d: dict, freeze: str, act: int, mask: int, seq: int, fused: bool) -> int:
    """Bytes saved for backward per token in one decoder layer."""
    if freeze == "backbone":
        return 0
    h, f, q = d["hidden"], d["ffn"], d["heads"] * d["head_dim"]
    norms = d["norms"] * 4 * h  # RMSNorm computes in fp32 and keeps that copy of its input
    attention = act * 4 * q + (0 if fused else d["heads"] * seq * act)  # q, k, v (repeated), output; math probs
    mlp = act * (3 * f if d["gated"] else f)
    if freeze == "none":  # every projection keeps its input for its weight gradient
        return norms + attention + mlp + act * (2 * h + f + q)
    lora_in = (act + mask) * d["lora_in"] if d["lora_dropout"] > 0 else act * (2 * h + f)
    quantised_inputs = act * d["lora_in"] if d["quantization"] == "8bit" else 0  # LLM.int8 keeps its input
    return norms + attention + mlp + lora_in + quantised_inputs + act * d.get("lora_rank", 0) * 8


def estimate(shape, *, freeze: str, micro: int, seq: int, precision: str, device: str, checkpointing: bool,
             overhead: int, margin: float, estimate_cls):
    """Peak memory of one decoder training step (the module docstring says what is counted)."""
    d = shape.decoder
    if d["quantization"] != "none" and freeze == "none":
        raise ConfigError("a quantised (8/4-bit) base cannot be fine-tuned fully; use freeze = lora (the default)")
    act = 4 if precision == "fp32" else 2
    fused = device == "cuda"
    mask = 1 if fused else act
    trainable = shape.trainable_params(freeze)
    base, _ = base_weight_bytes(d, precision, device)
    if freeze == "none":
        base = 4 * shape.backbone_params  # full fine-tuning trains fp32 master weights
    weights = base + 4 * (shape.lora_params + shape.adapter_params + shape.head_params)
    stored = stored_width(d, precision, device) if d["quantization"] == "none" else 2
    copies = 2 * d["linear_params"] if act == 2 and stored == 4 and freeze != "backbone" else 0
    tokens = micro * seq
    layer = per_token_layer(d, freeze, act, mask, seq, fused)
    if layer and checkpointing:
        body = shape.layers * stored * shape.hidden + layer
    else:
        body = shape.layers * layer
    final = 4 * shape.hidden + 4 * shape.hidden  # the final norm's fp32 copy, the fp32 states the head reads
    activations = tokens * (body + final) + micro * shape.hidden * 4 * 8
    dequantised = 2 * d["widest"] if d["quantization"] != "none" else 0
    scores = 0 if fused else micro * shape.heads * seq * seq * 4 * 2
    transient = tokens * act * (2 * shape.ffn + 4 * shape.hidden) + dequantised + scores
    return estimate_cls(weights=weights, gradients=4 * trainable, optimizer=8 * trainable, weight_copies=copies,
                        activations=activations, transient=transient, overhead=overhead, margin=margin)


def eval_tensors(shape, *, freeze: str, batch: int, seq: int, precision: str, device: str) -> int:
    """Tensor bytes of a validation pass in the middle of training (optimizer states still held)."""
    d = shape.decoder
    act = 4 if precision == "fp32" else 2
    base, _ = base_weight_bytes(d, precision, device)
    trainable = shape.trainable_params(freeze)
    weights = base + 4 * (shape.lora_params + shape.adapter_params + shape.head_params)
    scores = 0 if device == "cuda" else batch * shape.heads * seq * seq * 4 * 2
    dequantised = 2 * d["widest"] if d["quantization"] != "none" else 0
    return weights + 8 * trainable + batch * seq * act * (2 * shape.ffn + 4 * shape.hidden) + dequantised + scores


def check_device(shape, device_kind: str, budget_name: str, precision: str) -> str:
    """8/4-bit weights need CUDA (bitsandbytes): a CPU budget is refused with the fix; else the plan's note."""
    d = shape.decoder
    if d["quantization"] != "none" and device_kind != "cuda":
        raise ConfigError(f"{d['quantization']} quantisation (QLoRA) needs a CUDA GPU and budget {budget_name} plans "
                          "for the CPU; use a GPU budget (--budget p620-2gb, gpu-8gb ...) or "
                          "--set model.backbone_options.quantization=none")
    _, what = base_weight_bytes(d, precision, device_kind)
    lora = (f", LoRA r={d['lora_rank']} on {shape.lora_targets} projections per layer" if d.get("lora_rank") else "")
    return f"decoder {d['model_type']}: base weights {what}{lora}, no KV cache (one forward per note)"


def refusal_tips(shape) -> str:
    """What to try when a decoder does not fit: quantise (on CUDA), a smaller decoder, fewer tokens."""
    q = shape.decoder["quantization"]
    first = ("try --set model.backbone_options.quantization=4bit (QLoRA, CUDA)" if q != "4bit"
             else "try a smaller decoder (qwen2.5-0.5b, qwen2.5-1.5b, llama-3.2-1b)")
    return f"{first}, a lower --set train.max_length or a larger --budget"
