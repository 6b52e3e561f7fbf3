"""Masked-language models around a backbone, for ``clinitui pretrain``.

* :class:`ScratchMLM`: a from-scratch backbone (``scratch-transformer``, ``scratch-moe``) plus
  BERT's prediction head (dense → GELU → LayerNorm → decoder tied to the token embedding).
* :class:`HFMLM`: a Hugging Face encoder through ``AutoModelForMaskedLM`` (its own head; a
  sentence encoder such as MiniLM that ships without one gets a freshly initialised head).

Both compute the vocabulary logits **only at the masked positions** (≈ 15 % of tokens), not at
every position as ``BertForMaskedLM`` does: the decoder is the largest matrix product of a
small model's step, so this is most of the speed-up over the Hugging Face Trainer (docs/performance.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from clinitui.engine.pretrain.masking import IGNORE, MaskingSpec, spec_from_vocab
from clinitui.models import pretrained


def masked_loss(logits_fn, states: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(summed cross-entropy, number of predicted tokens) over the positions with a label."""
    where = labels != IGNORE
    picked = states[where]  # (N, d)
    if picked.shape[0] == 0:
        return states.sum() * 0.0, 0  # keeps the graph (and DDP-style hooks) happy on an unlucky batch
    logits = logits_fn(picked)
    return F.cross_entropy(logits.float(), labels[where], reduction="sum"), int(picked.shape[0])


class ScratchMLM(nn.Module):
    """A from-scratch backbone with a tied-embedding prediction head."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        d = backbone.hidden_size
        vocab = backbone.tokens.weight.shape[0]
        self.transform = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.LayerNorm(d))
        self.bias = nn.Parameter(torch.zeros(vocab))
        nn.init.normal_(self.transform[0].weight, std=0.02)
        nn.init.zeros_(self.transform[0].bias)

    def logits(self, states: torch.Tensor) -> torch.Tensor:
        return F.linear(self.transform(states), self.backbone.tokens.weight, self.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor):
        states = self.backbone(input_ids, attention_mask)
        loss, n = masked_loss(self.logits, states, labels)
        aux = self.backbone.auxiliary_loss()
        return loss, n, aux

    def head_state(self) -> dict[str, torch.Tensor]:
        return {f"transform.{k}": v for k, v in self.transform.state_dict().items()} | {"bias": self.bias.data}

    def save_backbone(self, directory: Path, tokenizer, marker: dict) -> None:
        """``backbone.safetensors`` + ``mlm_head.safetensors`` + tokenizer + marker, into ``directory``."""
        from safetensors.torch import save_file, save_model

        save_model(self.backbone, str(directory / pretrained.WEIGHTS), metadata={"format": "pt"})
        save_file({k: v.contiguous() for k, v in self.head_state().items()}, str(directory / pretrained.HEAD_WEIGHTS))
        tokenizer.save(directory)
        marker = {**marker, "weights_sha256": pretrained.sha256_file(directory / pretrained.WEIGHTS)}
        (directory / pretrained.MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")

    def masking_spec(self, tokenizer) -> MaskingSpec:
        vocab = tokenizer.tokenizer.get_vocab()
        specials = [vocab[t] for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t in vocab]
        return spec_from_vocab(vocab, mask_token="[MASK]", pad_id=tokenizer.pad_id, special_ids=specials)


class HFMLM(nn.Module):
    """``AutoModelForMaskedLM``, its head applied to the masked positions only."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        prefix = model.base_model_prefix
        self.base = getattr(model, prefix)
        heads = [m for name, m in model.named_children() if name != prefix]
        # BERT: `cls`, RoBERTa/CamemBERT: `lm_head`; otherwise fall back to the full forward
        self.head = heads[0] if len(heads) == 1 else None

    @classmethod
    def load(cls, source: str, allow_download: bool = False) -> "HFMLM":
        from transformers import AutoModelForMaskedLM

        from clinitui.models.backbones.hf import quiet_transformers

        with quiet_transformers():
            model = AutoModelForMaskedLM.from_pretrained(source, local_files_only=not allow_download,
                                                         trust_remote_code=False, dtype=torch.float32)
        return cls(model)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor):
        if self.head is None:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
            logits = out.logits
            where = labels != IGNORE
            n = int(where.sum())
            return F.cross_entropy(logits[where].float(), labels[where], reduction="sum"), n, None
        states = self.base(input_ids=input_ids, attention_mask=attention_mask, return_dict=True).last_hidden_state
        loss, n = masked_loss(self.head, states, labels)
        return loss, n, None

    def save_backbone(self, directory: Path, tokenizer, marker: dict) -> None:
        """``save_pretrained`` (AutoModel- and AutoModelForMaskedLM-compatible) + tokenizer + marker."""
        from clinitui.models.backbones.hf import quiet_transformers

        with quiet_transformers():  # no "Writing model shards" bar: the engine never prints
            self.model.save_pretrained(str(directory))
        tokenizer.save(directory)
        (directory / pretrained.MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")

    def masking_spec(self, tokenizer) -> MaskingSpec:
        tok = tokenizer.tokenizer
        if tok.mask_token_id is None:
            from clinitui.errors import ConfigError

            raise ConfigError(f"the tokenizer of '{tok.name_or_path}' has no mask token; masked-language "
                              "pretraining needs a BERT/RoBERTa-style encoder")
        return spec_from_vocab(tok.get_vocab(), mask_token=tok.mask_token, pad_id=tokenizer.pad_id,
                               special_ids=tok.all_special_ids)
