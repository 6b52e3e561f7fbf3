"""A small decoder LLM (Llama, Qwen, Mistral, Gemma, Phi) as a sequence classifier, with LoRA or QLoRA.

The base model is loaded from a local folder (or the local Hugging Face cache) as the encoders
are: offline, ``trust_remote_code=False``, safetensors preferred, without its LM head
(``AutoModel``: the family's base model). Decisions:

* **padding**: decoder tokenizers often define no pad token; the ``eos`` token (else ``unk``) is
  used as pad. clinitui pads on the **right** (its collator, engine/encode/batching.py): real
  tokens keep the positions 0..n-1 they had in pre-training, and a causal model's real tokens
  never see the padding after them. The attention mask comes from the sequence lengths, never
  from comparing ids with the pad id, so a real ``eos`` is not mistaken for padding.
* **pooling**: ``model.pooling = "last"``, the last real token (the only one that has read the
  whole note), found from the mask, so it is right under left padding too; ``mean`` also works.
* **LoRA** (PEFT) on the attention and MLP projections of the family
  (models/decoder_family.py), r/alpha/dropout/targets from ``model.backbone_options.lora_*``;
  clinitui's adapters (GRN, Adapter, ...) and the head sit on top. ``--adapter lora`` on a
  decoder uses the LoRA adapter's own options instead, with a linear head.
* **quantisation**: ``quantization = "4bit"`` (QLoRA: NF4, double quantisation, bf16 compute,
  fp16 on cards without bf16) or ``"8bit"`` through bitsandbytes, CUDA only, imported only here;
  ``none`` keeps the frozen weights in ``weights_dtype``.
* **checkpoint**: only the LoRA weights, the adapter and the head are saved; the base model is
  referenced by path and the sha256 of its config.json (``base_model.json``), checked on load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional

import torch
from pydantic import Field

from clinitui.digest import sha256_file
from clinitui.errors import CheckpointError, ConfigError, ModelNotFoundError
from clinitui.models import decoder_family
from clinitui.models.decoder_family import BASE_FILE
from clinitui.models.backbones.hf import (HFBackbone, HFTextEncoder, NamedHFOptions, hub_kwargs, not_found,
                                          quiet_transformers)
from clinitui.models.registry import register_backbone



class DecoderOptions(NamedHFOptions):
    quantization: Literal["none", "8bit", "4bit"] = Field(
        "none", description="Frozen base weights: none (weights_dtype), 8bit, or 4bit (QLoRA: NF4, double "
        "quantisation); 8bit/4bit need a CUDA GPU and `pip install 'clinitui[qlora]'` (bitsandbytes)."
    )
    weights_dtype: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="dtype of the frozen base weights when not quantised; auto: fp32 on CPU, "
        "bf16 on CUDA (fp16 on cards without bf16). LoRA weights always train in fp32."
    )
    lora_r: int = Field(16, ge=1, description="LoRA rank (freeze = lora, the decoders' default).")
    lora_alpha: float = Field(32.0, gt=0.0, description="LoRA scale numerator: updates are multiplied by alpha / r.")
    lora_dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the input of each LoRA branch.")
    lora_targets: Optional[list[str]] = Field(
        None, description="Module-name suffixes to adapt; empty = the family's attention and MLP projections "
        "(q/k/v/o_proj, gate/up/down_proj for Llama, Qwen, Mistral, Gemma)."
    )


def compute_dtype() -> torch.dtype:
    """The 16-bit type of this CUDA card: bf16 where supported, else fp16 (Pascal, e.g. the P620)."""
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def weights_dtype(options: DecoderOptions) -> torch.dtype:
    if options.weights_dtype != "auto":
        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[options.weights_dtype]
    return compute_dtype() if torch.cuda.is_available() else torch.float32


def check_quantization(options: DecoderOptions) -> None:
    """Refuse 8/4-bit before anything is loaded where it cannot run (one line, exit 2)."""
    if options.quantization == "none":
        return
    if not torch.cuda.is_available():
        raise ConfigError(f"{options.quantization} quantisation (QLoRA) needs a CUDA GPU and this machine has none; "
                          "use --set model.backbone_options.quantization=none (LoRA on unquantised weights)")
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError(f"{options.quantization} quantisation needs bitsandbytes: pip install 'clinitui[qlora]' "
                          "(or --set model.backbone_options.quantization=none)")


class DecoderTextEncoder(HFTextEncoder):
    """A decoder's tokenizer: ``eos`` (else ``unk``) as pad, right padding (see the module docstring)."""

    def __init__(self, tokenizer: Any) -> None:
        if tokenizer.pad_token_id is None:
            pad = tokenizer.eos_token or tokenizer.unk_token
            if pad is None:
                raise ConfigError(f"tokenizer of '{tokenizer.name_or_path}' has no pad, eos or unk token to pad with; "
                                  "add a pad token to its tokenizer_config.json")
            tokenizer.pad_token = pad
        tokenizer.padding_side = "right"
        super().__init__(tokenizer)


@register_backbone("decoder")
class DecoderBackbone(HFBackbone):
    """Any decoder LLM (Llama, Qwen, Mistral, Gemma, Phi) from a local folder, LoRA/QLoRA, last-token pooling."""

    Options = DecoderOptions
    text_encoder = DecoderTextEncoder
    causal: ClassVar[bool] = True  # a token sees only the tokens before it: "cls" pooling is meaningless
    default_freeze: ClassVar[str] = "lora"
    architecture: ClassVar[Optional[dict]] = None  # named entries: config.json numbers for the planner

    def __init__(self, model: Any, options: DecoderOptions, base: Optional[dict] = None) -> None:
        super().__init__(model, options)
        self.base = base or {}
        self.stores_base = False  # checkpoints hold LoRA + head only (build_classifier sets it for freeze=none)

    @classmethod
    def check_source(cls, options: DecoderOptions, source: Optional[str]) -> None:
        check_quantization(options)
        super().check_source(options, source)

    @classmethod
    def create(cls, options: DecoderOptions, source: Optional[str], tokenizer) -> "DecoderBackbone":
        from transformers import AutoConfig, AutoModel

        check_quantization(options)
        src = cls.resolve_source(options, source)
        with quiet_transformers():
            try:
                config = AutoConfig.from_pretrained(src, **hub_kwargs(options))
            except Exception as exc:
                raise not_found(src, options, "model config", exc) from None
        if not decoder_family.is_decoder_config(config.to_dict()):
            raise ConfigError(f"'{src}' ({config.model_type}) is not a decoder LLM; use it through the 'hf' entry "
                              "(or pass the folder as --backbone DIR)")
        kwargs = dict(config=config, dtype=weights_dtype(options), **hub_kwargs(options), **_quantization(options))
        errors: list[BaseException] = []
        with quiet_transformers():
            for use_safetensors in (True, False):  # prefer safetensors; .bin only if that is all there is
                try:
                    model = AutoModel.from_pretrained(src, use_safetensors=use_safetensors, **kwargs)
                    break
                except (OSError, ValueError) as exc:
                    errors.append(exc)
            else:
                raise not_found(src, options, "weights", errors[0])
        model.config.use_cache = False  # a classifier's forward: no KV cache
        return cls(model, options, base_record(src))

    @classmethod
    def from_checkpoint(cls, options: DecoderOptions, directory: Path, tokenizer) -> "DecoderBackbone":
        """The base model named in ``base_model.json``, checked; LoRA and head come from the checkpoint."""
        path = Path(directory) / BASE_FILE
        try:
            base = json.loads(path.read_text(encoding="utf-8"))
            folder = Path(base["path"])
        except (OSError, ValueError, KeyError, TypeError):
            raise CheckpointError(f"{path}: missing or unreadable; the checkpoint is incomplete") from None
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(f"base model folder {folder} (named in {path}) is missing; this checkpoint holds "
                                     "only LoRA and head weights: copy the base model there, or edit 'path' in "
                                     f"{BASE_FILE} to where it is")
        if sha256_file(folder / "config.json") != base.get("config_sha256"):
            raise CheckpointError(f"base model in {folder} is not the one this checkpoint was trained on "
                                  f"(its config.json changed); point 'path' in {path} at the original base model")
        return cls.create(options, str(folder), tokenizer)

    def save_extra(self, directory: Path) -> None:
        super().save_extra(directory)
        (Path(directory) / BASE_FILE).write_text(json.dumps(self.base, indent=2), encoding="utf-8")

    # -- LoRA ---------------------------------------------------------------------------------
    def lora_targets(self, targets: Optional[list[str]] = None) -> list[str]:
        return list(targets or self.options.lora_targets or decoder_family.family(self.model.config.model_type)[0])

    def attach_lora(self, r: int, alpha: float, dropout: float, targets: Optional[list[str]] = None) -> None:
        """Inject PEFT LoRA layers into the projections; their weights train in fp32 whatever the base dtype."""
        from peft import LoraConfig, inject_adapter_in_model

        names = self.lora_targets(targets)
        config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=names, bias="none")
        try:
            inject_adapter_in_model(config, self.model)
        except ValueError as exc:
            raise ConfigError(f"decoder LoRA: cannot adapt {names} ({str(exc).splitlines()[0][:160]}); set "
                              "model.backbone_options.lora_targets to names of its projections") from None
        for name, p in self.model.named_parameters():
            if "lora_" in name:
                p.data = p.data.float()

    # -- running ------------------------------------------------------------------------------
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, return_dict=True)
        return out.last_hidden_state.float()  # adapters and head run in fp32 (autocast narrows them on CUDA)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "quantization": self.options.quantization,
                "kv_heads": getattr(self.model.config, "num_key_value_heads", None)}


def _quantization(options: DecoderOptions) -> dict:
    if options.quantization == "none":
        return {}
    from transformers import BitsAndBytesConfig

    if options.quantization == "8bit":
        config = BitsAndBytesConfig(load_in_8bit=True)
    else:
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                    bnb_4bit_compute_dtype=compute_dtype())
    return {"quantization_config": config, "device_map": {"": torch.cuda.current_device()}}


def base_record(src: str) -> dict:
    """What a checkpoint records of its base model: the folder (absolute) and its config.json's sha256."""
    folder = Path(src).expanduser()
    if not folder.is_dir():  # a hub id: the snapshot folder of the local cache
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(src, "config.json")
        folder = Path(cached).parent if isinstance(cached, str) else folder
    folder = folder.resolve()
    return {"path": str(folder), "config_sha256": sha256_file(folder / "config.json")}
