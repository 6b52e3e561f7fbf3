"""Benchmark: clinitui against Hugging Face Trainer, every model and data set of docs/performance.md.

Not a test (pytest does not collect this file name). Each suite is one ``engine.bench.run_bench``
call — reference and clinitui back to back in this process — and its results are appended to a
JSON-lines file as it finishes, so an interrupted benchmark resumes where it stopped.

    python tests/benchmarks/bench_vs_trainer.py run --out bench.jsonl          # all suites (~20 min, 2 CPU cores)
    python tests/benchmarks/bench_vs_trainer.py run --out bench.jsonl --only tiny-demo
    python tests/benchmarks/bench_vs_trainer.py memory --out bench.jsonl       # peak RSS, one process per variant
    python tests/benchmarks/bench_vs_trainer.py extras --out bench.jsonl       # monitoring overhead, --help time
    python tests/benchmarks/bench_vs_trainer.py table bench.jsonl              # Markdown tables

The sizes below keep the whole run within about 25 minutes on a 2-core CPU machine; on a GPU
raise ``rows`` and ``max_length`` (and see the owed GPU rows in docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

MORFITT = Path(__file__).resolve().parents[3] / "shared" / "data" / "morfitt" / "morfitt_single_label.csv"

FULL = ("ref-full", "linear-full", "grn-full")
# name: BenchSpec fields. Few rows and steps for the 110M-parameter model on 2 cores.
SUITES = {
    "tiny-demo": dict(model="tiny", data="demo", rows=512, val_rows=128, repeats=3),
    "tiny-morfitt": dict(model="tiny", data=str(MORFITT), rows=256, val_rows=128, repeats=2),
    "small-demo": dict(model="small", data="demo", rows=256, val_rows=64, repeats=1),
    "minilm-demo": dict(model="minilm", data="demo", rows=128, val_rows=32, max_length=128, repeats=1),
    "camembert-demo": dict(model="camembert-base", data="demo", rows=16, val_rows=16, max_length=64,
                           batch_size=8, micro_batch=8, repeats=1),
    # Full fine-tuning of the pre-trained-size encoders at lengths where notes differ (and pad):
    "minilm-demo-512": dict(model="minilm", data="demo", rows=64, val_rows=32, max_length=512, repeats=1,
                            variants=FULL),
    "camembert-demo-256": dict(model="camembert-base", data="demo", rows=32, val_rows=16, max_length=256,
                               batch_size=8, micro_batch=8, repeats=1, variants=FULL),
    # The pre-trained-size rows on MORFITT (abstracts, 12 classes; mostly longer than 256 tokens):
    "small-morfitt": dict(model="small", data=str(MORFITT), rows=128, val_rows=64, repeats=1),
    "minilm-morfitt": dict(model="minilm", data=str(MORFITT), rows=64, val_rows=32, max_length=256, repeats=1),
    "camembert-morfitt": dict(model="camembert-base", data=str(MORFITT), rows=32, val_rows=8, max_length=256,
                              batch_size=8, micro_batch=8, repeats=1),
    # 160 notes (20 steps): enough notes for length bucketing to find neighbours, ~7 min at 2 threads
    "camembert-demo-256-160": dict(model="camembert-base", data="demo", rows=160, val_rows=8, max_length=256,
                                   batch_size=8, micro_batch=8, repeats=1, variants=FULL),
}


# Peak memory does not depend on the number of epochs: one process per variant, few steps.
MEMORY_SUITES = {
    "tiny-demo": dict(model="tiny", data="demo", rows=512, val_rows=128, epochs_frozen=1),
    "minilm-demo": dict(model="minilm", data="demo", rows=32, val_rows=16, max_length=128, epochs_frozen=1),
    "camembert-demo": dict(model="camembert-base", data="demo", rows=8, val_rows=8, max_length=64,
                           batch_size=8, micro_batch=8, epochs_frozen=1),
}


def done_suites(out: Path) -> set[str]:
    if not out.is_file():
        return set()
    return {json.loads(line)["suite"] for line in out.read_text().splitlines() if line.strip()}


def run(args) -> None:
    from clinitui.bench.classify import BenchSpec, run_bench, summarize

    done = done_suites(args.out)
    for name, fields in SUITES.items():
        if args.only and name not in args.only:
            continue
        if name in done:
            print(f"{name}: already in {args.out}, skipped", file=sys.stderr)
            continue
        if "morfitt" in name and not MORFITT.is_file():
            print(f"{name}: {MORFITT} absent, skipped", file=sys.stderr)
            continue
        spec = BenchSpec(**{**fields, "threads": args.threads})
        start = time.perf_counter()
        results = run_bench(spec, on_result=lambda r: print(f"  {name} {r.variant}: {r.wall_s:.2f} s", file=sys.stderr))
        record = {"suite": name, "date": time.strftime("%Y-%m-%d %H:%M"), "spec": asdict(spec),
                  "seconds": round(time.perf_counter() - start, 1), "rows": summarize(results),
                  "measurements": [r.as_dict() for r in results]}
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        print(f"{name}: {record['seconds']} s", file=sys.stderr)


def memory(args) -> None:
    """Each variant in a fresh process: its peak RSS is not inflated by the variants before it."""
    import subprocess

    from clinitui.bench.classify import VARIANTS, BenchSpec

    for name, fields in MEMORY_SUITES.items():
        spec = BenchSpec(**{**fields, "threads": args.threads})
        rows = []
        for variant in VARIANTS:
            child = subprocess.run([sys.executable, __file__, "child", json.dumps({**asdict(spec), "variants": [variant]})],
                                   capture_output=True, text=True, check=True)
            rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(f"  memory {name} {variant}: {rows[-1]['peak_rss_bytes'] >> 20} MiB", file=sys.stderr)
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"suite": f"memory-{name}", "date": time.strftime("%Y-%m-%d %H:%M"),
                                 "spec": asdict(spec), "memory": rows}) + "\n")


def child(args) -> None:
    from clinitui.bench.classify import BenchSpec, run_bench

    fields = json.loads(args.spec)
    (result,) = run_bench(BenchSpec(**{**fields, "variants": tuple(fields["variants"])}))
    print(json.dumps(result.as_dict()))


def extras(args) -> None:
    from clinitui.bench.classify import BenchSpec, help_time, monitoring_overhead

    spec = BenchSpec(model="tiny", rows=512, val_rows=64, threads=args.threads)
    record = {"suite": "extras", "date": time.strftime("%Y-%m-%d %H:%M"),
              "monitoring": [monitoring_overhead(spec, variant, repeats=5) for variant in ("grn-full", "grn-frozen")],
              "startup": help_time(repeats=15)}
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    print(json.dumps(record, indent=2))


def table(args) -> None:
    from clinitui.bench.classify import markdown_table

    records = [json.loads(line) for line in Path(args.file).read_text().splitlines() if line.strip()]
    # the data column also says the token budget: the same corpus pads differently at 128 and 512
    rows = [{**row, "data": f"{row['data']} ≤{r['spec']['max_length']}"} for r in records if "rows" in r
            for row in r["rows"]]
    print(markdown_table(rows))
    memory_rows = [(r["suite"], m) for r in records if "memory" in r for m in r["memory"]]
    by_suite = {r["suite"]: r["spec"]["max_length"] for r in records if "spec" in r}
    if memory_rows:
        print("\n| model | data | variant | peak RSS MiB | added by the run MiB |\n|---|---|---|---|---|")
        for suite, m in memory_rows:
            print(f"| {m['model']} | {m['data']} ≤{by_suite[suite]} | {m['variant']} | {m['peak_rss_bytes'] >> 20} "
                  f"| {(m['peak_rss_bytes'] - m['start_rss_bytes']) >> 20} |")
    for r in records:
        if r["suite"] == "extras":
            for m in r["monitoring"]:
                print(f"\nmonitoring overhead, {m['model']} {m['variant']}: paired {m.get('paired_overhead', 0):+.1%}, "
                      f"wall {m['overhead']:+.1%}, "
                      f"CPU {m['cpu_overhead']:+.1%} (medians of {m['repeats']}: {m['median_on_s']:.2f} s on vs "
                      f"{m['median_off_s']:.2f} s off); accounted {m['accounted_overhead']:.4%} "
                      f"(event {m['emit_s'] * 1e6:.0f} µs, memory tick {m['memory_tick_s'] * 1e6:.0f} µs)")
            s = r["startup"]
            print(f"`clinitui --help`: median {s['help_median_s']:.3f} s, best {s['help_best_s']:.3f} s "
                  f"(`python -c pass`: {s['python_median_s']:.3f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--only", nargs="*", choices=list(SUITES))
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=run)
    p = sub.add_parser("memory")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=memory)
    p = sub.add_parser("child")
    p.add_argument("spec")
    p.set_defaults(func=child)
    p = sub.add_parser("extras")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=extras)
    p = sub.add_parser("table")
    p.add_argument("file")
    p.set_defaults(func=table)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
