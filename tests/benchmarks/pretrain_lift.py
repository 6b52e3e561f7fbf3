"""MORFITT pretraining lift: a from-scratch model's macro-F1 with and without `clinitui pretrain`.

Not a test (pytest does not collect this file name). It pretrains the same from-scratch
backbone on two amounts of unlabeled text — MORFITT single-label train+dev, and that plus the
multi-label file's extra abstracts — keeping the backbone folder of every evaluation
(``pretrain.keep_checkpoints``), then fine-tunes the same classifier recipe on the official
single-label split from each folder and from random weights, for each seed, and prints the table
of docs/pretraining.md. Test text of both files is left out of pretraining (data/unlabeled.py).

    python tests/benchmarks/pretrain_lift.py --out lift/ --size tiny --steps 400 --every 100 --seeds 42
    python tests/benchmarks/pretrain_lift.py --out lift/ --table        # the table from finished runs

Runs are skipped when their result exists, so an interrupted measurement continues.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "morfitt"  # ../shared/data of the project
SINGLE, MULTI = DATA / "morfitt_single_label.csv", DATA / "morfitt.csv"


def clinitui(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "clinitui", *args, "--json", "--quiet"], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def pretrain(out: Path, name: str, files: list[Path], a: argparse.Namespace) -> Path:
    run = out / f"pt-{name}"
    if not (run / "metrics.json").exists():
        data = [x for f in files for x in ("--data", str(f))]
        clinitui("pretrain", *data, "--split-col", "split", "--window", str(a.window), "--steps", str(a.steps),
                 "--set", f"pretrain.eval_every={a.every}", "--set", "pretrain.keep_checkpoints=true",
                 "--set", f"pretrain.lr={a.lr}", "--set", f"train.threads={a.threads}",
                 "--set", f"train.batch_size={a.batch}", "--set", f"model.backbone_options.size={a.size}",
                 "--run-dir", str(run))
    return run


def pretrain_more(out: Path, name: str, files: list[Path], base: Path, a: argparse.Namespace) -> Path:
    """Continue ``base``'s final backbone for ``--more`` steps (``clinitui pretrain --backbone FOLDER``)."""
    run = out / f"pt-{name}-more"
    if not (run / "metrics.json").exists():
        data = [x for f in files for x in ("--data", str(f))]
        clinitui("pretrain", *data, "--backbone", str(base / "checkpoint"), "--split-col", "split",
                 "--window", str(a.window), "--steps", str(a.more), "--set", f"pretrain.eval_every={a.every}",
                 "--set", "pretrain.keep_checkpoints=true", "--set", f"pretrain.lr={a.more_lr}",
                 "--set", f"train.threads={a.threads}", "--set", f"train.batch_size={a.batch}", "--run-dir", str(run))
    steps_before = json.loads((base / "metrics.json").read_text())["steps"]  # what the continued run had done
    (run / "offset.json").write_text(json.dumps({"steps_before": steps_before}))
    return run


def offset(run: Path) -> int:
    """MLM steps made before ``run`` started: those of the run it continued (offset.json), else 0."""
    return json.loads((run / "offset.json").read_text())["steps_before"] if (run / "offset.json").is_file() else 0


def kept(run: Path) -> list[tuple[int, Path]]:
    """(total MLM steps, backbone folder) of every folder a pretraining run kept."""
    return [(offset(run) + int(f.name.split("-")[1]), f) for f in sorted((run / "checkpoints").iterdir())]


def finetune(out: Path, name: str, seed: int, backbone: Path | None, a: argparse.Namespace) -> dict:
    run = out / f"ft-{name}-s{seed}"
    if not (run / "metrics.json").exists():
        extra = ["--backbone", str(backbone)] if backbone else []
        clinitui("train", "--data", str(SINGLE), "--split-col", "split", "--set", f"model.backbone_options.size={a.size}",
                 "--max-length", str(a.window), "--set", f"train.threads={a.threads}", "--seed", str(seed), *extra,
                 "--ensemble", "none", *(x for kv in a.ft_set for x in ("--set", kv)), "--run-dir", str(run))
    return json.loads((run / "metrics.json").read_text())


def table(out: Path) -> str:
    rows: dict[str, list[dict]] = {}
    for m in sorted(out.glob("ft-*-s*/metrics.json")):
        name = m.parent.name.rsplit("-s", 1)[0][3:]
        rows.setdefault(name, []).append(json.loads(m.read_text()))
    losses = {}
    for pt in (p for p in out.glob("pt-*") if (p / "events.jsonl").is_file()):
        before = offset(pt)
        for e in (json.loads(x) for x in (pt / "events.jsonl").read_text().splitlines() if x.strip()):
            if e.get("type") == "eval":
                losses[f"{pt.name[3:].removesuffix('-more')}{before + e['step']}"] = e["mlm_loss"]
    base = rows.get("none")
    mean = lambda xs: statistics.mean(xs)  # noqa: E731
    sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else float("nan")  # noqa: E731
    lines = ["| pretraining | held-out MLM loss | seeds | val macro-F1 after epoch 1 | val macro-F1 (best) "
             "| test macro-F1 | lift (test) | wall s |", "|---|---|---|---|---|---|---|---|"]
    for name, ms in sorted(rows.items(), key=lambda kv: (kv[0] != "none", kv[0])):
        val = [m["val_metrics"]["f1_macro"] for m in ms]
        first = [next(e["f1_macro"] for e in map(json.loads, (Path(m["run_dir"]) / "events.jsonl").read_text().splitlines())
                      if e["type"] == "eval" and e.get("split") == "val") for m in ms]
        test = [m["metrics"]["f1_macro"] for m in ms]
        lift = f"{mean(test) - mean([b['metrics']['f1_macro'] for b in base]):+.3f}" if base and name != "none" else "–"
        loss = f"{losses[name]:.3f}" if name in losses else "–"
        lines.append(f"| {name} | {loss} | {len(ms)} | {mean(first):.3f} | {mean(val):.3f} ± {sd(val):.3f} | {mean(test):.3f} ± {sd(test):.3f} "
                     f"| {lift} | {mean([m['wall_seconds'] for m in ms]):.0f} |")
    b = (base or [{}])[0].get("baseline")
    if b:
        lines.append(f"\nTF-IDF + logistic regression printed beside the runs (same split): test macro-F1 {b['f1_macro']:.3f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--size", default="tiny")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--window", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", type=int, nargs="+", default=[42])
    p.add_argument("--corpora", nargs="+", default=["both", "single"], choices=["both", "single"],
                   help="unlabeled text: both MORFITT files, or the single-label file alone")
    p.add_argument("--at", type=int, nargs="*", default=None,
                   help="fine-tune only from the backbones kept at these steps (default: every kept one)")
    p.add_argument("--ft-set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra --set for every fine-tuning run, with and without pretraining (repeatable)")
    p.add_argument("--more", type=int, default=0, help="then continue the final backbone for this many steps")
    p.add_argument("--more-lr", type=float, default=5e-4, help="peak learning rate of the continued pretraining")
    p.add_argument("--more-for", nargs="*", choices=["both", "single"], help="corpora to continue (default: all)")
    p.add_argument("--table", action="store_true", help="only print the table of finished runs")
    p.add_argument("--morfitt", type=Path, default=DATA, help="folder with morfitt_single_label.csv and morfitt.csv")
    a = p.parse_args()
    global SINGLE, MULTI
    SINGLE, MULTI = a.morfitt / "morfitt_single_label.csv", a.morfitt / "morfitt.csv"
    if not a.table:
        a.out.mkdir(parents=True, exist_ok=True)
        files = {"both": [SINGLE, MULTI], "single": [SINGLE]}
        runs = {name: [pretrain(a.out, name, files[name], a)] for name in a.corpora}
        if a.more:
            for name in a.more_for or a.corpora:
                runs[name].append(pretrain_more(a.out, name, files[name], runs[name][0], a))
        for seed in a.seeds:
            finetune(a.out, "none", seed, None, a)
            for name, pts in runs.items():
                for step, folder in (x for run in pts for x in kept(run)):
                    if a.at is None or step in a.at:
                        finetune(a.out, f"{name}{step}", seed, folder, a)
    print(table(a.out))


if __name__ == "__main__":
    main()
