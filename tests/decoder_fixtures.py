"""Tiny random decoder LLMs saved like hub folders (config.json, model.safetensors, tokenizer files).

Built in the test from the families' own config classes (2 layers, hidden 32, a vocabulary of a
few dozen words), with a word-level ``tokenizers`` tokenizer wrapped in PreTrainedTokenizerFast:
``<s>`` prepended, ``</s>`` and ``<unk>`` defined and no pad token, as decoder tokenizers ship.
Used by tests/test_models_decoder.py and the GPU tier (tests/test_decoder_gpu.py).
"""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = ("patient fièvre toux cardiaque souffle convulsion sommeil enfant soins jour nuit traitement "
         "respiratoire oxygène bilan favorable").split()
FAMILIES = ("llama", "qwen2", "mistral", "gemma")


def tiny_tokenizer(folder: Path, *, eos: bool = True, max_length: int = 64, words=WORDS):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([" ".join(words)], trainers.WordLevelTrainer(special_tokens=["<unk>", "<s>", "</s>"]))
    tok.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>" if eos else None,
                                   unk_token="<unk>", model_max_length=max_length)
    fast.save_pretrained(str(folder))
    return fast


def tiny_decoder(folder: Path, family: str = "llama", *, hidden: int = 32, layers: int = 2,
                 vocab: int | None = None, seed: int = 0, words=WORDS) -> Path:
    """A random ``family`` decoder (LlamaConfig, Qwen2Config, MistralConfig, GemmaConfig) in ``folder``."""
    import transformers

    folder = Path(folder)
    tokenizer = tiny_tokenizer(folder, words=words)
    config_cls, model_cls = {
        "llama": (transformers.LlamaConfig, transformers.LlamaModel),
        "qwen2": (transformers.Qwen2Config, transformers.Qwen2Model),
        "mistral": (transformers.MistralConfig, transformers.MistralModel),
        "gemma": (transformers.GemmaConfig, transformers.GemmaModel),
    }[family]
    config = config_cls(vocab_size=vocab or len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                        head_dim=hidden // 4, max_position_embeddings=128, bos_token_id=1, eos_token_id=2,
                        pad_token_id=None)
    torch.manual_seed(seed)
    model_cls(config).save_pretrained(str(folder))
    return folder


def write_csv(path: Path, n: int = 32) -> Path:
    """Two separable classes in the tiny vocabulary, with train/dev/test splits."""
    rows = ["text,label,split"]
    for i in range(n):
        label = i % 2
        words = ("cardiaque souffle" if label else "toux oxygène") + " patient enfant " + WORDS[i % len(WORDS)]
        rows.append(f"{words},{label},{['train', 'train', 'dev', 'test'][i % 4] if i > 3 else 'train'}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
