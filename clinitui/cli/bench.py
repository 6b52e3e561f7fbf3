"""``clinitui bench``: clinitui against Hugging Face Trainer on this machine (bench/classify.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from clinitui.cli.common import boundary, print_json

Opt = typer.Option


def bench(
    task: Annotated[str, Opt(help="classify (fine-tuning, the default) or mlm (pretraining throughput, `clinitui pretrain`).")] = "classify",
    model: Annotated[str, Opt(help="tiny, mini, small (from scratch), camembert-base (random weights) or minilm.")] = "tiny",
    data: Annotated[str, Opt(help="'demo' or a CSV with text,label[,split] columns (train/dev rows are used).")] = "demo",
    rows: Annotated[int, Opt(help="Training notes (a multiple of --batch-size).")] = 512,
    val_rows: Annotated[int, Opt(help="Validation notes, evaluated after every epoch by both sides.")] = 128,
    max_length: Annotated[int, Opt(help="Tokens per note (truncation).")] = 256,
    batch_size: Annotated[int, Opt(help="Effective batch.")] = 16,
    micro_batch: Annotated[int, Opt(help="Sequences per forward pass (accumulation makes up the rest).")] = 16,
    epochs_full: Annotated[int, Opt(help="Epochs of the full fine-tuning variants.")] = 1,
    epochs_frozen: Annotated[int, Opt(help="Epochs of the frozen-backbone variants.")] = 5,
    threads: Annotated[int, Opt(help="torch CPU threads (1 is steadier on a loaded machine).")] = 2,
    device: Annotated[str, Opt(help="cpu or cuda (both sides on the same device).")] = "cpu",
    precision: Annotated[str, Opt(help="fp32, bf16 autocast (CPU or CUDA), or fp16 autocast on CUDA (both sides).")] = "fp32",
    variants: Annotated[str, Opt(help="Comma-separated subset of: ref-full, linear-full, grn-full, ref-frozen, "
                                      "linear-frozen, grn-frozen, grn-frozen-nocache.")] = "all",
    repeats: Annotated[int, Opt(help="Rounds over the variants (interleaved); the table shows medians.")] = 1,
    overhead: Annotated[bool, Opt("--overhead", help="Also measure the monitoring overhead (events + memory sampler).")] = False,
    startup: Annotated[bool, Opt("--startup", help="Also time `clinitui --help` in fresh processes.")] = False,
    out: Annotated[Optional[Path], Opt(help="Also write every measurement to this JSON file.")] = None,
    json_out: Annotated[bool, Opt("--json", help="JSON output instead of the Markdown table.")] = False,
) -> None:
    """Benchmark clinitui against Hugging Face Trainer: same data, batches, steps and machine; prints a table."""
    with boundary():
        from clinitui.bench import classify as engine_bench
        from clinitui.errors import ConfigError

        if task == "mlm":
            return _bench_mlm(model=model, data=data, rows=rows, max_length=max_length, batch_size=batch_size,
                              micro_batch=micro_batch, threads=threads, device=device, precision=precision,
                              variants=variants, repeats=repeats, out=out, json_out=json_out)
        if task != "classify":
            raise ConfigError(f"--task '{task}' is not one of classify, mlm")
        if model not in engine_bench.MODELS:
            raise ConfigError(f"--model '{model}' is not one of {', '.join(engine_bench.MODELS)}")
        if data != "demo" and not Path(data).is_file():
            raise ConfigError(f"--data {data}: no such file; pass 'demo' or a CSV path")
        chosen = engine_bench.VARIANTS if variants == "all" else tuple(v.strip() for v in variants.split(","))
        unknown = [v for v in chosen if v not in engine_bench.VARIANTS]
        if unknown:
            raise ConfigError(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(engine_bench.VARIANTS)}")
        if device not in ("cpu", "cuda"):
            raise ConfigError(f"--device '{device}' is not one of cpu, cuda")
        if precision not in ("fp32", "bf16", "fp16") or (precision == "fp16" and device != "cuda"):
            raise ConfigError(f"--precision '{precision}': use fp32 or bf16, or fp16 with --device cuda")
        if rows % batch_size or batch_size % micro_batch:
            raise ConfigError("--rows must be a multiple of --batch-size, and --batch-size of --micro-batch "
                              "(both sides then run the same number of optimizer steps)")
        spec = engine_bench.BenchSpec(model=model, data=data, rows=rows, val_rows=val_rows, max_length=max_length,
                                      batch_size=batch_size, micro_batch=micro_batch, epochs_full=epochs_full,
                                      epochs_frozen=epochs_frozen, threads=threads, variants=chosen, repeats=repeats,
                                      device=device, precision=precision)
        say = (lambda r: None) if json_out else (
            lambda r: sys.stderr.write(f"  {r.model} {r.data} {r.variant}: {r.wall_s:.2f} s\n"))
        results = engine_bench.run_bench(spec, on_result=say)
        payload = {"spec": {k: v for k, v in vars(spec).items()}, "rows": engine_bench.summarize(results),
                   "measurements": [r.as_dict() for r in results]}
        if overhead:
            payload["monitoring"] = engine_bench.monitoring_overhead(spec, repeats=max(3, repeats))
        if startup:
            payload["startup"] = engine_bench.help_time()
        if out is not None:
            out.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
        if json_out:
            print_json(payload)
            return
        typer.echo(engine_bench.markdown_table(payload["rows"]))
        if overhead:
            m = payload["monitoring"]
            typer.echo(f"\nmonitoring overhead ({m['variant']}, median of {m['repeats']}): {m['overhead']:+.1%}")
        if startup:
            s = payload["startup"]
            typer.echo(f"`clinitui --help`: median {s['help_median_s']:.3f} s (python alone {s['python_median_s']:.3f} s)")


def _bench_mlm(*, model: str, data: str, rows: int, max_length: int, batch_size: int, micro_batch: int, threads: int,
               device: str, precision: str, variants: str, repeats: int, out: Optional[Path], json_out: bool) -> None:
    """``--task mlm``: clinitui's pretraining loop against Trainer + DataCollatorForLanguageModeling."""
    from clinitui.bench import mlm as bench_mlm
    from clinitui.bench.common import BenchSpec
    from clinitui.errors import ConfigError

    if model not in bench_mlm.MLM_MODELS:
        raise ConfigError(f"--model '{model}' with --task mlm is not one of {', '.join(bench_mlm.MLM_MODELS)}")
    chosen = bench_mlm.MLM_VARIANTS if variants == "all" else tuple(v.strip() for v in variants.split(","))
    if any(v not in bench_mlm.MLM_VARIANTS for v in chosen) or batch_size % micro_batch:
        raise ConfigError(f"--task mlm: --variants from {', '.join(bench_mlm.MLM_VARIANTS)}, and --batch-size "
                          "a multiple of --micro-batch")
    if data != "demo" and not Path(data).is_file():
        raise ConfigError(f"--data {data}: no such file; pass 'demo' or a CSV path")
    spec = BenchSpec(model=model, data=data, rows=rows, val_rows=4, max_length=max_length, batch_size=batch_size,
                     micro_batch=micro_batch, threads=threads, variants=chosen, repeats=repeats, device=device,
                     precision=precision)
    say = (lambda r: None) if json_out else (
        lambda r: sys.stderr.write(f"  {r.model} {r.data} {r.variant}: {r.wall_s:.2f} s\n"))
    results = bench_mlm.run_mlm_bench(spec, on_result=say)
    payload = {"task": "mlm", "spec": dict(vars(spec)), "rows": bench_mlm.summarize_mlm(results),
               "measurements": [r.as_dict() for r in results]}
    if out is not None:
        out.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    if json_out:
        print_json(payload)
        return
    from clinitui.bench.classify import markdown_table

    typer.echo(markdown_table(payload["rows"]))
