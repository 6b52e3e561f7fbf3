"""Masked-language-model data: whole documents cut into windows, and the masking of a batch.

The standard recipe (Devlin et al. 2019; Liu et al. 2019): choose 15 % of the tokens — whole
words where the tokenizer marks word pieces — and of those replace 80 % by the mask token, 10 %
by a random token and leave 10 % unchanged; the model predicts the original token at every
chosen position. Padding and special tokens ([CLS], [SEP], ...) are never chosen.

Masks are *dynamic*: drawn again every time a batch is seen, from a generator seeded by
(seed, optimizer step, micro-batch), so a resumed run masks exactly as an uninterrupted one
would without saving any generator state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

IGNORE = -100  # label of positions that are not predicted (cross_entropy's ignore_index)


@dataclass
class MaskingSpec:
    """What a tokenizer's ids mean for masking, as lookup tables over the vocabulary."""

    mask_id: int
    pad_id: int
    special: torch.Tensor  # (V,) bool: never chosen (pad, cls, sep, mask, unk ...)
    continuation: torch.Tensor | None  # (V,) bool: a piece that continues the previous word; None: no word info
    vocab_size: int


def spec_from_vocab(vocab: dict[str, int], *, mask_token: str, pad_id: int, special_ids: Sequence[int]) -> MaskingSpec:
    """Word structure from the vocabulary: WordPiece marks continuations with ``##``, SentencePiece
    marks word starts with ``▁``; a vocabulary with neither masks token by token."""
    size = max(vocab.values()) + 1
    special = torch.zeros(size, dtype=torch.bool)
    special[list(special_ids)] = True
    continuation = None
    if any(tok.startswith("##") for tok in vocab):
        continuation = torch.zeros(size, dtype=torch.bool)
        continuation[[i for tok, i in vocab.items() if tok.startswith("##")]] = True
    elif any(tok.startswith("▁") for tok in vocab):
        continuation = torch.ones(size, dtype=torch.bool)
        continuation[[i for tok, i in vocab.items() if tok.startswith("▁")]] = False
    if continuation is not None:
        continuation &= ~special
    return MaskingSpec(vocab[mask_token], pad_id, special, continuation, size)


def mask_tokens(input_ids: torch.Tensor, spec: MaskingSpec, generator: torch.Generator, *, mask_prob: float = 0.15,
                mask_fraction: float = 0.8, random_fraction: float = 0.1,
                whole_word: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked input ids, labels) for a (B, T) batch; labels are ``IGNORE`` where nothing is predicted."""
    ids = input_ids
    eligible = ~spec.special[ids]  # padding is special too
    rand = torch.rand(ids.shape, generator=generator)
    if whole_word and spec.continuation is not None:
        # a word = a start piece and the continuation pieces after it; the draw of its start decides
        cont = spec.continuation[ids] & eligible
        starts = ~cont
        word = torch.cumsum(starts.long(), dim=1) - 1  # word index of each position (row-local)
        start_rand = torch.where(starts, rand, torch.full_like(rand, 2.0))
        word_rand = torch.full_like(rand, 2.0).scatter_reduce(1, word, start_rand, reduce="amin")
        chosen = (word_rand.gather(1, word) < mask_prob) & eligible
    else:
        chosen = (rand < mask_prob) & eligible
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    how = torch.rand(ids.shape, generator=generator)
    to_mask = chosen & (how < mask_fraction)
    to_random = chosen & (how >= mask_fraction) & (how < mask_fraction + random_fraction)
    out = ids.clone()
    out[to_mask] = spec.mask_id
    if to_random.any():
        # random replacements are ordinary tokens, never padding or special ones
        ordinary = (~spec.special).nonzero().squeeze(1)
        pick = torch.randint(len(ordinary), (int(to_random.sum()),), generator=generator)
        out[to_random] = ordinary[pick]
    return out, labels


def step_generator(seed: int, step: int, micro: int) -> torch.Generator:
    """The generator that masks micro-batch ``micro`` of optimizer step ``step`` (dynamic, resumable)."""
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + step) * 1_009 + micro)
    return g


def windows(sequences: Sequence[Sequence[int]], window: int, stride: int | None = None) -> list[list[int]]:
    """Cut encoded documents (each ``[CLS] body [SEP]``-style) into windows of at most ``window``
    tokens, each re-wrapped in the document's first and last (special) tokens.

    Consecutive windows start ``stride`` body tokens apart (default: no overlap); the last one
    ends with the document, so no text is dropped.
    """
    body_len = max(1, window - 2)
    stride = min(stride or body_len, body_len)
    out = []
    for seq in sequences:
        if len(seq) <= window:
            out.append(list(seq))
            continue
        first, body, last = seq[0], list(seq[1:-1]), seq[-1]
        start = 0
        while True:
            end = min(start + body_len, len(body))
            out.append([first, *body[start:end], last])
            if end == len(body):
                break
            start = min(start + stride, len(body) - body_len)
    return out


def unigram_loss(train: Sequence[Sequence[int]], val: Sequence[Sequence[int]], spec: MaskingSpec) -> float:
    """Cross-entropy of the held-out tokens under the training tokens' frequencies (add-one).

    What a model that ignores the context scores: an MLM whose held-out loss sits at this level
    has learnt token frequencies only (the "unigram plateau"), and its encoder gives a classifier
    little to start from (docs/pretraining.md).
    """
    size = spec.vocab_size
    counts = torch.zeros(size, dtype=torch.float64)
    for w in train:
        counts += torch.bincount(torch.tensor(w, dtype=torch.long), minlength=size)[:size].double()
    counts[spec.special] = 0.0
    logp = torch.log((counts + 1.0) / (counts.sum() + size))
    ids = torch.tensor([t for w in val for t in w], dtype=torch.long)
    ids = ids[~spec.special[ids]]
    return float(-logp[ids].mean()) if len(ids) else float("nan")
