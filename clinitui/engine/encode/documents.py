"""Whole documents as token ids, never truncated: what pretraining windows and long notes start from."""

from __future__ import annotations

LONG = 10_000_000  # "no truncation": whole documents are encoded, then cut into windows


def encode_documents(tokenizer, texts: list[str]) -> list[list[int]]:
    """Whole documents as token ids with the tokenizer's special tokens, never truncated."""
    hf = getattr(tokenizer, "tokenizer", None)
    if hasattr(hf, "model_max_length"):  # a Hugging Face tokenizer (HFTextEncoder caps at the model's limit)
        from clinitui.models.backbones.hf import quiet_transformers

        with quiet_transformers():
            return [list(x) for x in hf(list(texts), truncation=False, add_special_tokens=True)["input_ids"]]
    return tokenizer.encode(texts, LONG)
