"""A tokenizer as the engine sees it: texts → lists of token ids, saved with checkpoints (torch-free).

Our own WordPiece tokenizers (data/tokenizers.py) and the Hugging Face ones a pre-trained
backbone brings (models/backbones/hf.py) both implement it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence


class TextEncoder:
    """A tokenizer as the engine sees it: texts → lists of token ids, saved with checkpoints."""

    pad_id: int
    vocab_size: int

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        raise NotImplementedError

    def save(self, directory: Path) -> None:
        raise NotImplementedError
