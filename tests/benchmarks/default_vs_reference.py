"""Benchmark (not a test): the default ``clinitui train`` against the standard strong TF-IDF recipe (issue 24).

Measured the way the hidden sets will be: one split per seed, built as a user would (test: the
file's own test rows, or a random tenth for the demo corpus; of the rest, every 7th row, after a
shuffle by the seed, is dev, the others train), then

* **the default**: ``clinitui train --data SPLIT.csv --split-col split --set train.seed=SEED``,
  nothing else changed (the network, the TF-IDF blend, the default operating rule);
* **the reference**: the standard recipe a careful user would write with scikit-learn (word 1–2-grams
  + char_wb 2–5-grams, sublinear tf, class-balanced logistic regression, scikit-learn's defaults
  otherwise), fitted on train + dev and scored on the same test notes.

The network's training never depends on what happens after it (blend, C, thresholds, refit), so
``replay`` re-runs only that stage, with this checkout's code, on a copy of a finished run's
checkpoint: the before/after of a change to that stage on identical networks.

    python tests/benchmarks/default_vs_reference.py splits OUT --seeds 42 43 44
    python tests/benchmarks/default_vs_reference.py train OUT demo 42 --tag before   # the default run, timed
    python tests/benchmarks/default_vs_reference.py reference OUT demo 42
    python tests/benchmarks/default_vs_reference.py replay OUT demo 42 --tag after
    python tests/benchmarks/default_vs_reference.py table OUT

Nothing is chosen on a test split: every choice inside a run is made on its dev rows; the
configurations are fixed here. ``OUT`` holds split files with note text: keep it outside the repo.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(os.environ.get("CLINITUI_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
FILES = {"morfitt": DATA / "morfitt" / "morfitt_single_label.csv",
         "abstracts": DATA / "medical_abstracts" / "medical_abstracts.csv"}
EXTRA = os.environ.get("ACCURACY_EXTRA", "").split()


def rows_of(name: str) -> list[tuple[str, str, str]]:
    """(text, label, split) rows of a set; the demo corpus is the default run's 5,400 notes, no split."""
    if name == "demo":
        from clinitui.data.demo import generate_notes

        texts, labels = generate_notes(5400, seed=0)
        return [(t, str(y), "") for t, y in zip(texts, labels)]
    with open(FILES[name], encoding="utf-8", newline="") as f:
        return [(r["text"], r["label"], r["split"]) for r in csv.DictReader(f)]


def make_split(name: str, seed: int, out: Path) -> Path:
    rows = rows_of(name)
    rng = random.Random(seed)
    if name == "demo":
        order = list(range(len(rows)))
        rng.shuffle(order)
        test = set(order[: len(rows) // 10])
    else:
        test = {i for i, r in enumerate(rows) if r[2] == "test"}
    rest = [i for i in range(len(rows)) if i not in test]
    rng.shuffle(rest)
    split = {i: "test" for i in test}
    split.update({i: ("dev" if k % 7 == 6 else "train") for k, i in enumerate(rest)})
    path = out / f"{name}-s{seed}.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label", "split"])
        w.writerows([rows[i][0], rows[i][1], split[i]] for i in range(len(rows)))
    return path


def train(out: Path, name: str, seed: int, tag: str) -> dict:
    cmd = [sys.executable, "-m", "clinitui", "train", "--data", str(out / f"{name}-s{seed}.csv"), "--split-col",
           "split", "--set", f"train.seed={seed}", *EXTRA, "--runs-root", str(out / "runs"), "--json", "--quiet"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        sys.exit(f"{name} {seed}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    payload = json.loads(proc.stdout)
    record = {"command": "clinitui " + " ".join(cmd[3:]), "wall_s": round(time.perf_counter() - start, 1),
              "run_dir": payload["run_dir"], "summary": summary(payload)}
    (out / f"{name}-s{seed}.train.json").write_text(json.dumps(record, indent=2))
    (out / f"{name}-s{seed}.{tag}.json").write_text(json.dumps({"tag": tag, "summary": record["summary"]}, indent=2))
    return record


def summary(p: dict) -> dict:
    """The figures of a metrics.json payload the table needs (before and after share this)."""
    vs = p.get("vs_baseline") or {}
    return {"test_f1_macro": p["metrics"]["f1_macro"], "baseline_f1_macro": (p.get("baseline") or {}).get("f1_macro"),
            "network_f1_macro": (p.get("network") or {}).get("f1_macro"),
            "weight": (p.get("ensemble") or {}).get("weight"), "blend": p.get("blend"),
            "roc_auc": p["metrics"].get("roc_auc"), "delta_f1_macro_ci": vs.get("delta_f1_macro_ci"),
            "rule": (p.get("operating_point") or {}).get("rule"), "wall_seconds": p.get("wall_seconds")}


def reference(out: Path, name: str, seed: int) -> dict:
    """The standard strong recipe, fitted on train + dev, scored on test (macro-F1 with a bootstrap interval)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline, make_union

    from clinitui.engine.evaluate.stats import bootstrap_intervals

    with open(out / f"{name}-s{seed}.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    fit = [r for r in rows if r["split"] != "test"]
    test = [r for r in rows if r["split"] == "test"]
    names = sorted({r["label"] for r in rows})
    start = time.perf_counter()
    model = make_pipeline(
        make_union(TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
                   TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        LogisticRegression(class_weight="balanced", max_iter=3000))
    model.fit([r["text"] for r in fit], [names.index(r["label"]) for r in fit])
    y = np.array([names.index(r["label"]) for r in test])
    probs = model.predict_proba([r["text"] for r in test])
    pred = probs.argmax(1)
    ci = bootstrap_intervals(y, pred, probs, None, 1000).get("f1_macro")
    record = {"f1_macro": float(f1_score(y, pred, average="macro")), "f1_macro_ci": ci,
              "seconds": round(time.perf_counter() - start, 1)}
    (out / f"{name}-s{seed}.reference.json").write_text(json.dumps(record, indent=2))
    return record


def replay(out: Path, name: str, seed: int, tag: str) -> dict:
    """The after-training stage (engine/recipes/finish.py) with this checkout's code, on a copy of the run."""
    import shutil
    import tempfile
    import tomllib

    from clinitui.config.schema import RunConfig
    from clinitui.engine.checkpoint.folder import read_checkpoint_info
    from clinitui.engine.inference.predictor import network_probabilities
    from clinitui.engine.recipes.finish import finisher_for
    from clinitui.data.load import dataset_for

    run = Path(json.loads((out / f"{name}-s{seed}.train.json").read_text())["run_dir"])
    cfg = RunConfig.model_validate(tomllib.loads((run / "run.toml").read_text(encoding="utf-8")))
    # run.toml spells out every default of the code that trained it: replay with this checkout's default rule
    default_rule = type(cfg.train).model_fields["threshold_rule"].default
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"threshold_rule": default_rule})})
    ds = dataset_for(cfg)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "checkpoint"
        shutil.copytree(run / "checkpoint", ckpt, ignore=shutil.ignore_patterns("tfidf"))
        raw = json.loads((ckpt / "config.json").read_text())
        for key in ("ensemble", "temperature", "operating_point"):
            raw.pop(key, None)
        (ckpt / "config.json").write_text(json.dumps(raw))
        info = read_checkpoint_info(ckpt)
        nv = network_probabilities(info, ds.val.texts, 64, "cpu")
        nt = network_probabilities(info, ds.test.texts, 64, "cpu")
        events: list = []
        done = finisher_for(ds).finish(Path(tmp), ckpt, ds, cfg, nv, nt, emit=lambda *a, **k: events.append((a, k)),
                                       epoch=1, step=1)
    ens = done.ensemble or {}
    payload = {"metrics": done.metrics, "baseline": done.baseline, "network": ens.get("network_test"),
               "ensemble": {"weight": ens["weight"]} if ens else None, **done.extras}
    record = {"tag": tag, "seconds": round(time.perf_counter() - start, 1), "summary": summary(payload)}
    (out / f"{name}-s{seed}.{tag}.json").write_text(json.dumps(record, indent=2))
    return record


def _mean(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    return f"{statistics.fmean(values):.4f}" + (f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else "")


def table(out: Path, tags: list[str]) -> str:
    lines = ["| set | seed | reference (train+dev) [95% CI] | " + " | ".join(f"default {t}" for t in tags)
             + " | printed baseline (" + tags[-1] + ") | default wall s |", "|---" * (5 + len(tags)) + "|"]
    for name in ("demo", "morfitt", "abstracts"):
        per: dict[str, list] = {"ref": [], **{t: [] for t in tags}}
        for file in sorted(out.glob(f"{name}-s*.reference.json")):
            seed = file.name.split("-s")[1].split(".")[0]
            ref = json.loads(file.read_text())
            got = {t: out / f"{name}-s{seed}.{t}.json" for t in tags}
            if not all(p.is_file() for p in got.values()):
                continue
            s = {t: json.loads(p.read_text())["summary"] for t, p in got.items()}
            wall = json.loads((out / f"{name}-s{seed}.train.json").read_text())["wall_s"]
            ci = ref["f1_macro_ci"]
            per["ref"].append(ref["f1_macro"])
            for t in tags:
                per[t].append(s[t]["test_f1_macro"])
            lines.append(f"| {name} | {seed} | {ref['f1_macro']:.4f} [{ci[0]:.3f}, {ci[1]:.3f}] | "
                         + " | ".join(f"{s[t]['test_f1_macro']:.4f}" for t in tags)
                         + f" | {s[tags[-1]]['baseline_f1_macro']:.4f} | {wall:.0f} |")
        if per["ref"]:
            lines.append(f"| **{name} mean** | {len(per['ref'])} | {_mean(per['ref'])} | "
                         + " | ".join(_mean(per[t]) for t in tags) + " | | |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("splits", "train", "reference", "replay", "table"))
    ap.add_argument("out", type=Path)
    ap.add_argument("name", nargs="?", choices=("demo", "morfitt", "abstracts"))
    ap.add_argument("seed", nargs="?", type=int)
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--tag", default="after")
    ap.add_argument("--tags", nargs="+", default=["before", "after"])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.what == "splits":
        for name in ("demo", "morfitt", "abstracts"):
            for seed in args.seeds:
                print(make_split(name, seed, args.out))
    elif args.what == "table":
        print(table(args.out, args.tags))
    else:
        do = {"train": lambda o, n, s: train(o, n, s, args.tag), "reference": reference,
              "replay": lambda o, n, s: replay(o, n, s, args.tag)}[args.what]
        print(json.dumps(do(args.out, args.name, args.seed)))


if __name__ == "__main__":
    main()
