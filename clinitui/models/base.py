"""The interfaces every backbone and adapter implements (imports torch).

A classifier is ``backbone → [token adapter] → pooling → [pooled adapter] → dropout → linear``:

* a **backbone** turns ``input_ids``/``attention_mask`` of shape (B, T) into token states
  (B, T, d) and owns its tokenizer (trained on the training split, or loaded from a folder);
* an **adapter** maps d → d either on token states (``level = "token"``, e.g. TinyAttention,
  which needs the sequence and its padding mask) or on the pooled vector (``level = "pooled"``,
  the study's "final layers before the classifier").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Sequence

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from clinitui.data.text_encoder import TextEncoder


class Options(BaseModel):
    """Base for per-entry options: unknown keys are rejected, every field has a description."""

    model_config = ConfigDict(extra="forbid")


class Adapter(nn.Module):
    """d → d block placed after the backbone."""

    registry_name: ClassVar[str]
    level: ClassVar[str] = "pooled"  # "pooled": (B, d) → (B, d); "token": (B, T, d) + mask
    Options: ClassVar[type[BaseModel]] = Options

    def __init__(self, dim: int, options: BaseModel) -> None:
        super().__init__()
        self.dim = dim
        self.options = options

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError


class Backbone(nn.Module):
    """Text ids → token states (B, T, hidden_size)."""

    registry_name: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = Options
    pretrained: ClassVar[bool] = False  # True: freeze="backbone" is the default
    # False: checkpoints leave out the frozen base weights (a decoder with LoRA: they stay in
    # the base model's folder, Classifier.checkpoint_state)
    stores_base: bool = True

    hidden_size: int

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def make_tokenizer(cls, options: BaseModel, source: str | None, train_texts: Sequence[str]) -> TextEncoder:
        """Train (from scratch) or load (pre-trained) the tokenizer for a new run."""
        raise NotImplementedError

    @classmethod
    def check_source(cls, options: BaseModel, source: str | None) -> None:
        """Raise a ClinituiError now if the weights cannot be loaded (called before a run directory exists)."""

    @classmethod
    def load_tokenizer(cls, directory: Path) -> TextEncoder:
        """The tokenizer saved in a checkpoint folder."""
        raise NotImplementedError

    @classmethod
    def create(cls, options: BaseModel, source: str | None, tokenizer: TextEncoder) -> "Backbone":
        """A backbone for a new run (pre-trained weights loaded when the entry has them)."""
        raise NotImplementedError

    @classmethod
    def from_checkpoint(cls, options: BaseModel, directory: Path, tokenizer: TextEncoder) -> "Backbone":
        """The same architecture as saved in ``directory``, weights left for the caller to load."""
        return cls.create(options, None, tokenizer)

    def save_extra(self, directory: Path) -> None:
        """Write what ``from_checkpoint`` needs besides the weights (e.g. an HF config)."""

    # -- running ------------------------------------------------------------------------------
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def auxiliary_loss(self) -> torch.Tensor | None:
        """Extra loss term of the last forward pass (e.g. MoE load balancing), or None."""
        return None

    def describe(self) -> dict[str, Any]:
        return {}
