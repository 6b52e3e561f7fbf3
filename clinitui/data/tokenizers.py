"""WordPiece tokenizers trained on the training split (for backbones trained from scratch).

Privacy: a token enters the vocabulary only if it occurs at least ``min_frequency`` times in
the training split, so rare strings — names, record numbers — are not stored in the
checkpoint's ``tokenizer.json``. This vocabulary is the one place where pieces of the training
text are written to disk (documented in docs/privacy.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from clinitui.errors import CheckpointError
from clinitui.models.base import TextEncoder

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
FILENAME = "tokenizer.json"


class WordPieceEncoder(TextEncoder):
    """A ``tokenizers.Tokenizer`` (WordPiece, lower-cased, accents kept) behind ``TextEncoder``."""

    def __init__(self, tokenizer) -> None:  # tokenizers.Tokenizer
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.token_to_id("[PAD]")
        self.cls_id = tokenizer.token_to_id("[CLS]")
        self.sep_id = tokenizer.token_to_id("[SEP]")
        self.vocab_size = tokenizer.get_vocab_size()

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def save(self, directory: Path) -> None:
        self.tokenizer.save(str(Path(directory) / FILENAME))

    @classmethod
    def load(cls, directory: Path) -> "WordPieceEncoder":
        from tokenizers import Tokenizer

        path = Path(directory) / FILENAME
        if not path.is_file():
            raise CheckpointError(f"{directory}: no {FILENAME}; the checkpoint is incomplete")
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as exc:  # tokenizers raises plain Exceptions on bad JSON
            raise CheckpointError(f"{path}: not a readable tokenizer ({type(exc).__name__})") from None


def train_wordpiece(texts: Sequence[str], vocab_size: int = 8000, min_frequency: int = 3) -> WordPieceEncoder:
    """Train a WordPiece tokenizer on ``texts`` (the training split only)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    return WordPieceEncoder(tok)
