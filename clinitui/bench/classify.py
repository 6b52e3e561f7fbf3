"""clinitui against Hugging Face ``Trainer``: same data, model size, batches, steps, machine, process.

One :func:`run_bench` call measures, back to back in this process:

* the **reference**: ``AutoModelForSequenceClassification`` + ``Trainer`` (random order, padding
  to the batch's longest with ``DataCollatorWithPadding``, evaluation each epoch, no saving), with
  the whole model training (``full``) and with its encoder frozen (``frozen``);
* **clinitui**: ``engine.train.loop.fit`` with the ``linear`` head and the ``grn`` adapter, unfrozen and
  frozen (frozen: with the feature cache, and ``grn`` once more without it).

Both sides get the same token ids (tokenised once, outside the timings, as a Trainer user does
with ``datasets.map``), the same effective batch, learning rate, schedule and number of optimizer
steps. The encoders are the same where a Hugging Face model exists (the CamemBERT-base-sized
random model, MiniLM); for the from-scratch sizes the reference is a ``BertConfig`` encoder of the
same width, depth, heads and feed-forward size (post-LN BERT against clinitui's pre-LN encoder:
same FLOPs, not the same function). The reference side lives in ``bench/reference.py``;
torch and transformers are imported inside functions.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Callable

from clinitui.bench.common import (  # noqa: F401  (re-exported: the public names of `clinitui bench`)
    MODELS, SCRATCH_SIZES, VARIANTS, BenchSpec, DeviceClock, PeakRSS, Result, data_name, device_peak_tflops,
    encoder_dims, run_flops)


# -- data and models -----------------------------------------------------------------------------
def load_texts(spec: BenchSpec) -> tuple[list[str], list[int], list[str], list[int], list[str]]:
    """Train and validation texts and integer labels: the demo corpus, or a CSV's train/dev rows."""
    if spec.data == "demo":
        from clinitui.data.demo import generate_notes

        texts, labels = generate_notes(spec.rows + spec.val_rows, seed=0)
        n = spec.rows
        return texts[:n], labels[:n], texts[n:], labels[n:], ["0", "1"]
    from clinitui.data.readers import read_table

    table = read_table(spec.data, "text", "label", "split")
    names = sorted(set(table.labels))
    rows = list(zip(table.texts, [names.index(x) for x in table.labels], table.splits or ["train"] * len(table.texts)))
    random.Random(0).shuffle(rows)  # a fixed sample of the official splits
    pool = [r for r in rows if r[2] == "train"]
    train = pool[: spec.rows]
    val = [r for r in rows if r[2] in ("dev", "val", "validation")][: spec.val_rows]
    if not val:  # a file with train and test rows only: validate on training rows the benchmark does not train on
        val = pool[spec.rows: spec.rows + spec.val_rows]
    if len(train) < spec.rows or not val:
        from clinitui.errors import DataError

        raise DataError(f"--data {spec.data}: {len(train)} training rows and {len(val)} for validation; --rows {spec.rows} "
                        f"needs that many training rows and at least one more (or a dev split): lower --rows or give a larger file")
    return [r[0] for r in train], [r[1] for r in train], [r[0] for r in val], [r[1] for r in val], names


# -- the two sides ---------------------------------------------------------------------------------
def run_clinitui(spec: BenchSpec, variant: str, model_cfg, tokenizer, train, val, label_names: list[str],
                 workdir: Path, monitoring: bool | None = None, dims: tuple[int, int] | None = None) -> Result:
    """``engine.train.loop.fit``, with the event stream and memory sampler on (as in a run) or off."""
    import torch

    from clinitui.config.schema import TrainConfig
    from clinitui.engine.encode.batching import batch_order, padding_fraction
    from clinitui.engine.train.feature_cache import limit_bytes
    from clinitui.engine.train.loop import fit
    from clinitui.events import EventWriter
    from clinitui.engine.runtime.telemetry import Sampler
    from clinitui.models.classifier import build_classifier

    head, mode = variant.split("-", 1)
    frozen = mode.startswith("frozen")
    epochs = spec.epochs_frozen if frozen else spec.epochs_full
    cfg = model_cfg.model_copy(update={"adapter": head, "freeze": "backbone" if frozen else "none"})
    torch.manual_seed(42)
    model, _ = build_classifier(cfg, len(label_names), tokenizer)
    train_cfg = TrainConfig(epochs=epochs, lr=spec.lr, batch_size=spec.batch_size, max_length=spec.max_length,
                            early_stopping=False, baseline=False, seed=42, eval_batch_size=64, state_every_s=1e9)
    device = torch.device(spec.device)
    monitoring = spec.monitoring if monitoring is None else monitoring
    writer = EventWriter(workdir / f"{variant}-{time.monotonic_ns()}.jsonl") if monitoring else None
    sampler = Sampler(writer.emit, device, None) if writer else None
    marks: list[float] = []

    def emit(type: str, **fields) -> dict:
        if type == "eval":
            marks.append(time.perf_counter())
        return writer.emit(type, **fields) if writer else {}

    steps_per_epoch = math.ceil(len(train.ids) / spec.batch_size)
    padding = padding_fraction(train.lengths, batch_order(train.lengths, spec.micro_batch, random.Random(0), True))
    model.to(device)
    with PeakRSS() as mem, DeviceClock(device) as clock:
        if sampler:
            sampler.start()
        fit(model, train, val, cfg=train_cfg, micro_batch=spec.micro_batch, pad_id=tokenizer.pad_id,
            label_names=label_names, positive_index=1 if len(label_names) == 2 else None, device=device,
            precision=spec.precision, emit=emit, save_best=lambda epoch, metrics: None,
            progress=sampler.progress if sampler else None,
            feature_cache_limit=limit_bytes(device) if mode == "frozen" else None)
        if sampler:
            sampler.stop()
    if writer:
        writer.close()
    epoch_s = [b - a for a, b in zip([clock.start] + marks, marks)]
    flops = run_flops(model.backbone, train, epochs, dims) if dims and not frozen else None
    return Result(spec.model, data_name(spec), variant, epochs, steps_per_epoch * epochs, len(train.ids),
                  sum(train.lengths) * epochs, clock.wall, epoch_s, mem.peak, mem.start, clock.cpu, padding,
                  flops, device_peak_tflops(device), clock.gpu_peak)


def model_config(spec: BenchSpec, folder: str | None):
    from clinitui.config.schema import ModelConfig

    if folder is None:
        return ModelConfig(backbone="scratch-transformer",
                           backbone_options={"size": spec.model, "vocab_size": 8000, "min_frequency": 3})
    return ModelConfig(backbone=folder)


def run_bench(spec: BenchSpec, on_result: Callable[[Result], None] = lambda r: None) -> list[Result]:
    """Every variant of ``spec``, reference and clinitui back to back; ``on_result`` sees each as it ends."""
    import torch

    from clinitui.data.tokenizers import train_tokenizer
    from clinitui.engine.train.loop import EncodedSplit
    from clinitui.models.classifier import make_tokenizer

    if spec.batch_size % spec.micro_batch:
        raise ValueError("batch_size must be a multiple of micro_batch")
    from clinitui.bench.reference import hf_folder, quiet_transformers, reference_model, run_reference, \
        wrap_tokenizer

    if spec.device == "cuda" and not torch.cuda.is_available():
        from clinitui.errors import ConfigError

        raise ConfigError("--device cuda: torch sees no CUDA GPU here; use --device cpu")
    torch.set_num_threads(spec.threads)
    quiet_transformers()
    _warm_up()
    train_texts, train_labels, val_texts, val_labels, names = load_texts(spec)
    results = []
    with tempfile.TemporaryDirectory(prefix="clinitui-bench-") as tmp:
        workdir = Path(tmp)
        folder = None
        if spec.model not in SCRATCH_SIZES:
            scratch_tok = train_tokenizer(train_texts, 8000, 3) if spec.model == "camembert-base" else None
            folder = hf_folder(spec.model, scratch_tok, workdir / "encoder")
        cfg = model_config(spec, folder)
        tokenizer = make_tokenizer(cfg, train_texts)  # trained once on the training texts, shared by both sides
        train = EncodedSplit(tokenizer.encode(train_texts, spec.max_length), train_labels)
        val = EncodedSplit(tokenizer.encode(val_texts, spec.max_length), val_labels)
        collator_tok = wrap_tokenizer(tokenizer) if folder is None else tokenizer.tokenizer
        dims = encoder_dims(spec, folder)
        for _ in range(spec.repeats):
            for variant in spec.variants:
                if variant.startswith("ref-"):
                    torch.manual_seed(42)
                    model = reference_model(spec.model, folder, tokenizer, len(names))
                    result = run_reference(spec, variant, model, collator_tok, train, val, workdir, dims)
                    del model
                else:
                    result = run_clinitui(spec, variant, cfg, tokenizer, train, val, names, workdir, dims=dims)
                results.append(result)
                on_result(result)
    return results


def _warm_up() -> None:
    """Pay the one-off imports (scikit-learn for the metrics, Trainer and accelerate) before any clock runs."""
    import numpy as np
    import transformers.trainer  # noqa: F401

    from clinitui.engine.evaluate.metrics import classification_metrics

    classification_metrics([0, 1], np.array([[0.6, 0.4], [0.3, 0.7]]), ["0", "1"], 1)


def summarize(results: list[Result]) -> list[dict]:
    """One row per (model, data, variant): medians over repeats, and the ratio to the matching reference."""
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        groups.setdefault((r.model, r.data, r.variant), []).append(r)
    rows = {}
    for key, rs in groups.items():
        rs = sorted(rs, key=lambda r: r.wall_s)
        mid = rs[len(rs) // 2]
        later = [s for r in rs for s in r.epoch_s[1:]]
        rows[key] = {**mid.as_dict(), "repeats": len(rs), "wall_all_s": [round(r.wall_s, 3) for r in rs],
                     "first_epoch_s": round(sorted(r.epoch_s[0] for r in rs)[len(rs) // 2], 3) if mid.epoch_s else None,
                     "later_epoch_s": round(sorted(later)[len(later) // 2], 3) if later else None,
                     "peak_rss_bytes": max(r.peak_rss_bytes for r in rs),
                     "added_rss_bytes": max(r.peak_rss_bytes - r.start_rss_bytes for r in rs)}
    for (model, data, variant), row in rows.items():
        ref = rows.get((model, data, "ref-frozen" if "frozen" in variant else "ref-full"))
        row["ratio"] = round(row["samples_per_s"] / ref["samples_per_s"], 3) if ref else None
    return list(rows.values())


def monitoring_overhead(spec: BenchSpec, variant: str = "grn-full", repeats: int = 3) -> dict:
    """Throughput with and without the event stream + memory sampler, interleaved (ABAB...)."""
    import torch

    from clinitui.engine.train.loop import EncodedSplit
    from clinitui.models.classifier import make_tokenizer

    torch.set_num_threads(spec.threads)
    train_texts, train_labels, val_texts, val_labels, names = load_texts(spec)
    cfg = model_config(spec, None)
    tokenizer = make_tokenizer(cfg, train_texts)
    train = EncodedSplit(tokenizer.encode(train_texts, spec.max_length), train_labels)
    val = EncodedSplit(tokenizer.encode(val_texts, spec.max_length), val_labels)
    runs: dict[bool, list[Result]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="clinitui-bench-") as tmp:
        run_clinitui(spec, variant, cfg, tokenizer, train, val, names, Path(tmp), monitoring=False)  # warm-up
        for i in range(repeats):
            for on in ((True, False) if i % 2 == 0 else (False, True)):
                runs[on].append(run_clinitui(spec, variant, cfg, tokenizer, train, val, names, Path(tmp), monitoring=on))
        cost = monitoring_cost(Path(tmp))
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    wall = {k: median([r.wall_s for r in v]) for k, v in runs.items()}
    cpu = {k: median([r.cpu_s for r in v]) for k, v in runs.items()}
    # What monitoring adds per second of training: one memory sample + event, a heartbeat every
    # 5 s, and one step event per log_every (10) optimizer steps.
    steps_per_s = runs[False][0].steps / wall[False]
    per_s = cost["memory_tick_s"] + cost["emit_s"] * (0.2 + steps_per_s / 10)
    return {"variant": variant, "model": spec.model, "repeats": repeats,
            "wall_on_s": [r.wall_s for r in runs[True]], "wall_off_s": [r.wall_s for r in runs[False]],
            "cpu_on_s": [r.cpu_s for r in runs[True]], "cpu_off_s": [r.cpu_s for r in runs[False]],
            "median_on_s": wall[True], "median_off_s": wall[False], "overhead": wall[True] / wall[False] - 1.0,
            "cpu_overhead": cpu[True] / cpu[False] - 1.0,
            # on/off runs side by side: the machine's drift between rounds cancels out
            "paired_overhead": median([a.wall_s / b.wall_s for a, b in zip(runs[True], runs[False])]) - 1.0,
            **cost, "accounted_overhead": per_s}


def monitoring_cost(workdir: Path, n: int = 2000) -> dict:
    """Seconds per ``step`` event written and per memory-sampler tick (sample + event), measured directly."""
    import torch

    from clinitui.engine.runtime.telemetry import memory_sample
    from clinitui.events import EventWriter

    writer = EventWriter(workdir / "cost.jsonl")
    start = time.perf_counter()
    for i in range(n):
        writer.emit("step", epoch=1, step=i, total_steps=n, loss=0.693147, lr=1e-3, tokens_per_s=12345.6,
                    samples_per_s=78.9)
    emit_s = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for _ in range(n // 10):
        writer.emit("memory", **memory_sample(torch.device("cpu"), None))
    tick_s = (time.perf_counter() - start) / (n // 10)
    writer.close()
    return {"emit_s": emit_s, "memory_tick_s": tick_s}


def help_time(repeats: int = 10) -> dict:
    """Wall time of ``clinitui --help`` in fresh processes (median and best), and of bare ``python -c pass``."""
    import subprocess
    import sys

    def timed(argv: list[str]) -> list[float]:
        out = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                           env={**os.environ, "COLUMNS": "100"})
            out.append(time.perf_counter() - start)
        return sorted(out)

    script = Path(sys.executable).with_name("clinitui")  # the console script users run
    cli = timed([str(script), "--help"] if script.is_file() else [sys.executable, "-m", "clinitui", "--help"])
    bare = timed([sys.executable, "-c", "pass"])
    return {"repeats": repeats, "help_median_s": cli[len(cli) // 2], "help_best_s": cli[0],
            "python_median_s": bare[len(bare) // 2]}


def markdown_table(rows: list[dict]) -> str:
    """The summary rows as a Markdown table (what ``clinitui bench`` prints and docs/performance.md holds)."""
    gpu = any(r.get("gpu_peak_bytes") for r in rows)  # GPU runs add their peak memory, FLOP/s and MFU
    head = ("| model | data | variant | steps | wall s | 1st epoch s | later epoch s | real tok/s | samples/s "
            "| peak RSS MiB (+run) | padding | × ref |" + (" GPU peak MiB | model TFLOP/s | MFU |" if gpu else ""))
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        extra = ""
        if gpu:
            tflops = f"{r['tflops_per_s']:.1f}" if r.get("tflops_per_s") is not None else "–"
            mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "–"
            extra = f" {r['gpu_peak_bytes'] >> 20} | {tflops} | {mfu} |"
        later = f"{r['later_epoch_s']:.2f}" if r.get("later_epoch_s") is not None else "–"
        first = f"{r['first_epoch_s']:.2f}" if r.get("first_epoch_s") is not None else "–"
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "–"
        lines.append(
            f"| {r['model']} | {r['data']} | {r['variant']} | {r['steps']} | {r['wall_s']:.2f} | {first} | {later} "
            f"| {r['tokens_per_s']:,.0f} | {r['samples_per_s']:.1f} | {r['peak_rss_bytes'] >> 20} "
            f"(+{r['added_rss_bytes'] >> 20}) | {r['padding_fraction']:.1%} | {ratio} |" + extra)
    return "\n".join(lines)
