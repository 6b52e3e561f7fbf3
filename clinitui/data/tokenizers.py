"""WordPiece tokenizers learned from the training split (for backbones trained from scratch).

The vocabulary is chosen by our own small, deterministic procedure instead of the ``tokenizers``
trainers: its WordPiece, BPE and Unigram trainers break ties in hash-map order, so the same
data gives a different vocabulary in every process (measured) and runs would not be
reproducible. ``tokenizers`` still does the normalising, splitting, encoding and saving.

Vocabulary: special tokens, every character (as a word start and as a ``##`` continuation),
then the word prefixes (whole words included) and ``##`` suffixes that save the most tokens
(frequency × (length − 1)), ties broken alphabetically. Encoding is WordPiece's greedy
longest match.

Privacy: only words that occur at least ``min_frequency`` times in the training split are
looked at, so rare strings — names, record numbers — cannot enter the vocabulary saved in the
checkpoint's ``tokenizer.json``. That vocabulary is the one place where pieces of the training
text are written to disk (docs/privacy.md).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

from clinitui.errors import CheckpointError
from clinitui.data.text_encoder import TextEncoder

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
FILENAME = "tokenizer.json"


class SubwordEncoder(TextEncoder):
    """A ``tokenizers.Tokenizer`` (WordPiece, lower-cased, accents kept) behind ``TextEncoder``."""

    def __init__(self, tokenizer) -> None:  # tokenizers.Tokenizer
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.token_to_id("[PAD]")
        self.vocab_size = tokenizer.get_vocab_size()

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def save(self, directory: Path) -> None:
        self.tokenizer.save(str(Path(directory) / FILENAME))

    @classmethod
    def load(cls, directory: Path) -> "SubwordEncoder":
        from tokenizers import Tokenizer

        path = Path(directory) / FILENAME
        if not path.is_file():
            raise CheckpointError(f"{directory}: no {FILENAME}; the checkpoint is incomplete")
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as exc:  # tokenizers raises plain Exceptions on bad JSON
            raise CheckpointError(f"{path}: not a readable tokenizer ({type(exc).__name__})") from None


def _frequent_words(tok, texts: Sequence[str], min_frequency: int) -> Counter:
    counts: Counter = Counter()
    normalize, split = tok.normalizer.normalize_str, tok.pre_tokenizer.pre_tokenize_str
    for text in texts:
        counts.update(word for word, _ in split(normalize(text)))
    return Counter({w: n for w, n in counts.items() if n >= min_frequency})


def learn_vocab(words: Counter, vocab_size: int, max_piece: int = 16) -> list[str]:
    """Specials, characters, then the pieces that save the most tokens, deterministically."""
    chars = sorted({c for w in words for c in w})
    base = SPECIAL_TOKENS + chars + ["##" + c for c in chars]
    gain: Counter = Counter()
    for word, n in words.items():
        for end in range(2, min(len(word), max_piece) + 1):
            gain[word[:end]] += n * (end - 1)  # a prefix of length L saves L-1 tokens per use
        for start in range(1, len(word) - 1):
            if len(word) - start <= 8:
                gain["##" + word[start:]] += n * (len(word) - start - 1)
    room = max(0, vocab_size - len(base))
    best = sorted(gain.items(), key=lambda kv: (-kv[1], kv[0]))[:room]
    return base + sorted(piece for piece, _ in best)


def train_tokenizer(texts: Sequence[str], vocab_size: int = 8000, min_frequency: int = 3) -> SubwordEncoder:
    """Learn a WordPiece tokenizer from ``texts`` (the training split only), reproducibly."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(SPECIAL_TOKENS)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    vocab = learn_vocab(_frequent_words(tok, texts, min_frequency), vocab_size)
    tok.model = models.WordPiece(vocab={t: i for i, t in enumerate(vocab)}, unk_token="[UNK]",
                                 max_input_chars_per_word=100)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return SubwordEncoder(tok)
