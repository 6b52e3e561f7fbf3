"""A small Transformer encoder trained from scratch on the notes, with its own subword tokenizer."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, Optional, Sequence

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from clinitui.data.tokenizers import SubwordEncoder, train_tokenizer
from clinitui.data.text_encoder import TextEncoder
from clinitui.models.base import Backbone, Options
from clinitui.models.registry import register_backbone

# name: (hidden, layers, heads, feed-forward)
SIZES = {
    "tiny": (64, 2, 2, 128),  # tests and quick CPU demos
    "mini": (128, 2, 4, 512),  # the CPU default: a few minutes on 2 cores for the demo corpus
    "small": (256, 4, 4, 1024),  # a few million parameters; the study's scale, for a GPU
}


class ScratchOptions(Options):
    size: Literal["tiny", "mini", "small"] = Field(
        "mini", description="Model size: tiny (tests), mini (CPU default) or small (a few M parameters)."
    )
    vocab_size: int = Field(8000, ge=100, description="Subword vocabulary size trained on the training split.")
    min_frequency: int = Field(
        3, ge=1, description="A token enters the vocabulary only if seen this often (keeps names out)."
    )
    max_positions: int = Field(512, ge=8, description="Longest sequence the position table covers.")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="Dropout on embeddings, residual branches and feed-forward.")
    attention_dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout on the attention probabilities. 0 lets CPU training use the fused "
        "attention kernel (1.6x faster steps for the mini model; docs/performance.md)."
    )
    init_from: Optional[str] = Field(
        None, description="Folder written by `clinitui pretrain`: its tokenizer and encoder weights are the start "
        "(set for you by `--backbone DIR`)."
    )


class Dropout(nn.Dropout):
    """``nn.Dropout`` with the keep-mask drawn by ``torch.rand`` (same Bernoulli mask, same scaling).

    On CPU ``bernoulli_`` is not vectorised: it was 30 % of a training step of the mini encoder;
    a uniform draw and a comparison cost half as much (docs/performance.md, "Levers").
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.is_cuda:
            return super().forward(x)
        return x * ((torch.rand_like(x) >= self.p) * (1.0 / (1.0 - self.p)))


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        # key_mask: (B, 1, 1, T) bool, True where a key may be attended to (not padding)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))


class EncoderLayer(nn.Module):
    """Pre-LayerNorm encoder layer: x + attn(LN(x)), then x + ffn(LN(x))."""

    def __init__(self, dim: int, heads: int, ffn: nn.Module, dropout: float, attention_dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, attention_dropout)
        self.ln2 = nn.LayerNorm(dim)
        self.ffn = ffn
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attn(self.ln1(x), key_mask))
        return x + self.ffn(self.ln2(x))


@register_backbone("scratch-transformer")
class ScratchTransformer(Backbone):
    """Small dense Transformer encoder trained from scratch; WordPiece vocabulary learnt from the training split."""

    Options = ScratchOptions
    pretrained = False

    def __init__(self, options: ScratchOptions, vocab_size: int, pad_id: int) -> None:
        super().__init__()
        dim, layers, heads, ffn = SIZES[options.size]
        self.hidden_size = dim
        self.options = options
        self.tokens = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.positions = nn.Embedding(options.max_positions, dim)
        self.dropout = Dropout(options.dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(dim, heads, self.make_ffn(dim, ffn, options), options.dropout, options.attention_dropout)
            for _ in range(layers)
        )
        self.ln_f = nn.LayerNorm(dim)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2 style scaled init of residual projections
            if name.endswith(("proj.weight", "down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * layers))

    def make_ffn(self, dim: int, hidden: int, options: ScratchOptions) -> nn.Module:
        return FeedForward(dim, hidden, options.dropout)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @classmethod
    def make_tokenizer(cls, options: ScratchOptions, source: str | None, train_texts: Sequence[str]) -> TextEncoder:
        if options.init_from:  # a pretrained backbone keeps the vocabulary its weights were learnt with
            return SubwordEncoder.load(Path(options.init_from))
        return train_tokenizer(train_texts, options.vocab_size, options.min_frequency)

    @classmethod
    def load_tokenizer(cls, directory: Path) -> TextEncoder:
        return SubwordEncoder.load(directory)

    @classmethod
    def create(cls, options: ScratchOptions, source: str | None, tokenizer: TextEncoder) -> "ScratchTransformer":
        return cls(options, tokenizer.vocab_size, tokenizer.pad_id)

    def load_pretrained(self) -> None:
        """Start from the weights of a `clinitui pretrain` folder (``init_from``), if one is set."""
        if self.options.init_from:
            from clinitui.models.pretrained import load_weights

            load_weights(self, self.options.init_from)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device)
        x = self.dropout(self.tokens(input_ids) + self.positions(pos))
        key_mask = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_mask)
        return self.ln_f(x)

    def describe(self) -> dict:
        dim, layers, heads, ffn = SIZES[self.options.size]
        return {"size": self.options.size, "hidden": dim, "layers": layers, "heads": heads, "ffn": ffn}
