"""What clinitui knows about decoder (causal LM) families, torch-free: one table read by the
decoder backbone (models/backbones/decoder.py), the backbone resolver and the memory planner.

A family is a Hugging Face ``model_type``. For each: the LoRA targets (module-name suffixes of
the attention and MLP projections) and whether its MLP is gated (three matrices: gate, up,
down) or plain (two: fc1, fc2). ``architecture_numbers`` turns a ``config.json`` into the sizes
the planner multiplies; ``is_decoder_config`` says whether a folder holds a decoder, so
``--backbone DIR`` picks the right entry without loading anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BASE_FILE = "base_model.json"  # in a checkpoint: where the frozen base model is, and its config's sha256
LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# model_type → (LoRA targets: attention then MLP projections, gated MLP)
FAMILIES: dict[str, tuple[tuple[str, ...], bool]] = {
    "llama": (LLAMA_TARGETS, True),
    "mistral": (LLAMA_TARGETS, True),
    "qwen2": (LLAMA_TARGETS, True),
    "qwen3": (LLAMA_TARGETS, True),
    "gemma": (LLAMA_TARGETS, True),
    "gemma2": (LLAMA_TARGETS, True),
    "gemma3_text": (LLAMA_TARGETS, True),
    "phi": (("q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"), False),
    "phi3": (("qkv_proj", "o_proj", "gate_up_proj", "down_proj"), True),
}
# the 4-bit / 8-bit storage cost per quantised weight, in bytes (bitsandbytes): NF4 with double
# quantisation keeps 0.5 B per weight + an 8-bit absmax per 64 weights + an fp32 per 256 absmax;
# LLM.int8 keeps 1 B per weight + an fp32 scale per output row (counted apart)
QUANT_BYTES = {"4bit": 0.5 + 1 / 64 + 4 / (64 * 256), "8bit": 1.0}
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


def family(model_type: str) -> tuple[tuple[str, ...], bool]:
    """(LoRA targets, gated MLP) of a family; unknown Llama-like types get the Llama names."""
    return FAMILIES.get(model_type, (LLAMA_TARGETS, True))


def read_config(folder: str | Path) -> dict[str, Any] | None:
    """``config.json`` of a local model folder, or None when there is none (or it is unreadable)."""
    path = Path(folder).expanduser() / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_decoder_config(cfg: dict[str, Any] | None) -> bool:
    """A causal language model (Llama, Qwen, Mistral, Gemma, Phi ...), not an encoder or seq2seq."""
    if not cfg or cfg.get("is_encoder_decoder"):
        return False
    if cfg.get("model_type") in FAMILIES:
        return True
    return any(str(a).endswith("ForCausalLM") for a in cfg.get("architectures") or [])


def architecture_numbers(cfg: dict[str, Any]) -> dict[str, int]:
    """The sizes the planner needs from a decoder's config.json (text part for multimodal Gemma 3)."""
    cfg = cfg.get("text_config", cfg)
    h = int(cfg["hidden_size"])
    heads = int(cfg["num_attention_heads"])
    head_dim = int(cfg.get("head_dim") or h // heads)
    targets, gated = family(str(cfg.get("model_type", "")))
    return {
        "hidden": h, "layers": int(cfg["num_hidden_layers"]), "heads": heads,
        "kv_heads": int(cfg.get("num_key_value_heads") or heads), "head_dim": head_dim,
        "ffn": int(cfg["intermediate_size"]), "vocab": int(cfg["vocab_size"]), "gated": int(gated),
        "bias": int(bool(cfg.get("attention_bias") or cfg.get("model_type") in ("qwen2", "phi"))),
        "norms": 4 if cfg.get("model_type", "").startswith(("gemma2", "gemma3")) else 2,
    }


def linear_shapes(n: dict[str, int]) -> dict[str, tuple[int, int]]:
    """(in, out) of each projection of one layer, by LoRA-target name (unfused and fused spellings)."""
    h, q, kv, f = n["hidden"], n["heads"] * n["head_dim"], n["kv_heads"] * n["head_dim"], n["ffn"]
    return {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h), "dense": (q, h),
            "qkv_proj": (h, q + 2 * kv), "gate_proj": (h, f), "up_proj": (h, f), "down_proj": (f, h),
            "gate_up_proj": (h, 2 * f), "fc1": (h, f), "fc2": (f, h)}


def base_params(n: dict[str, int], model_type: str) -> tuple[int, int]:
    """(all, embedding) parameters of the base model without its LM head (AutoModel loads none)."""
    shapes = linear_shapes(n)
    linear = sum(i * o for i, o in (shapes[t] for t in family(model_type)[0]))
    bias = (n["heads"] + 2 * n["kv_heads"]) * n["head_dim"] if n["bias"] else 0
    embedding = n["vocab"] * n["hidden"]
    per_layer = linear + bias + n["norms"] * n["hidden"]
    return embedding + n["layers"] * per_layer + n["hidden"], embedding
