"""Benchmark (not a test): which selection rules survive the test split? (issue 24, points 1–3)

On the per-seed splits of ``default_vs_reference.py splits`` (train / dev / test, dev every 7th
row), with the TF-IDF model alone (it costs seconds, so every choice can be replayed):

* **C**: the grid's best validation macro-F1 (ties: smaller C) against the one-standard-error rule
  (the smallest C whose paired-bootstrap gap to the best is within one standard error), the same with
  the 95 % rule of ``stats.real_gain``, and C = 1 (scikit-learn's default) unless the best beats it for real;
* **refit**: the model fitted on train (C chosen on dev) against the same C refitted on train + dev;
* **operating rule** (binary tasks: the demo corpus, and every class against the rest of the
  medical abstracts, 9–31 % positive, the shape of the hidden sets): ``argmax``, ``macro-f1``
  (with its one-standard-error fall-back to argmax), ``macro-f1`` without it, and ``f1`` of the
  positive (minority) class; temperature and threshold chosen on dev, scored on test.

Every choice is made on dev; test only scores. Prints one JSON line per split and task.

    python tests/benchmarks/selection_study.py OUT morfitt abstracts demo --seeds 42 43 44
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


def read(out: Path, name: str, seed: int):
    with open(out / f"{name}-s{seed}.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    names = sorted({r["label"] for r in rows})
    part = {s: ([r["text"] for r in rows if r["split"] == s], np.array([names.index(r["label"]) for r in rows
                                                                         if r["split"] == s])) for s in ("train", "dev", "test")}
    return part, names


def features(train_texts: list[str], *others):
    from clinitui.engine.tfidf.features import stack_features
    from clinitui.engine.tfidf.model import fit_vectorizers

    word, char = fit_vectorizers(train_texts)
    return [stack_features(word, char, t) for t in (train_texts, *others)]


def fit_probs(x, y, c: float, *xs):
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=0).fit(x, y)
    return [lr.predict_proba(z) for z in xs]


def f1(y, pred, k) -> float:
    from clinitui.engine.evaluate.stats import macro_f1_rows

    return float(macro_f1_rows(np.asarray(y)[None], np.asarray(pred)[None], k)[0])


def c_and_refit(part, k: int) -> dict:
    """Test macro-F1 of: C by max (train-only), C by one-SE (train-only), C by max refitted on train + dev."""
    from clinitui.engine.evaluate.stats import paired_gain, real_gain

    (tr, ytr), (dv, ydv), (te, yte) = part["train"], part["dev"], part["test"]
    x_tr, x_dv, x_te = features(tr, dv, te)
    got = {c: fit_probs(x_tr, ytr, c, x_dv, x_te) for c in C_GRID}
    dev_f1 = {c: f1(ydv, p[0].argmax(1), k) for c, p in got.items()}
    c_max = max(C_GRID, key=lambda c: (dev_f1[c], -c))
    c_se = c_real = c_max
    for c in (c for c in C_GRID if c < c_max):  # the smallest C whose gap to the best is noise (two rules)
        gain, se = paired_gain(ydv, got[c_max][0].argmax(1), got[c][0].argmax(1), k)
        c_se = c if gain <= se and c_se == c_max else c_se
        c_real = c if not real_gain(gain, se) and c_real == c_max else c_real
    gain, se = paired_gain(ydv, got[c_max][0].argmax(1), got[1.0][0].argmax(1), k)
    c_one = c_max if real_gain(gain, se) else 1.0  # scikit-learn's default C unless the best beats it for real
    x_all, x_te2 = features(tr + dv, te)
    refit = fit_probs(x_all, np.concatenate([ytr, ydv]), c_max, x_te2)[0]
    return {"C_max": c_max, "C_1se": c_se, "C_real": c_real, "C_one": c_one,
            "test_one": f1(yte, got[c_one][1].argmax(1), k), "test_max": f1(yte, got[c_max][1].argmax(1), k),
            "test_1se": f1(yte, got[c_se][1].argmax(1), k), "test_real": f1(yte, got[c_real][1].argmax(1), k),
            "test_refit": f1(yte, refit.argmax(1), k),
            "dev": {str(c): round(v, 4) for c, v in dev_f1.items()},
            "test": {str(c): round(f1(yte, p[1].argmax(1), k), 4) for c, p in got.items()}}


def rules(part, positive: int, x=None, c: float = 1.0) -> dict:
    """Test macro-F1 of a binary task under each operating rule (temperature and threshold chosen on dev)."""
    from clinitui.engine.evaluate.assess import fit_on_validation
    from clinitui.engine.evaluate.calibration import apply_temperature
    from clinitui.engine.evaluate.operating_point import predict_with_threshold

    (tr, ytr), (dv, ydv), (te, yte) = part["train"], part["dev"], part["test"]
    x_tr, x_dv, x_te = x or features(tr, dv, te)
    pdv, pte = fit_probs(x_tr, ytr, c, x_dv, x_te)
    out = {"positive_share": round(float((ytr == positive).mean()), 3)}
    for rule in ("argmax", "macro-f1", "macro-f1-raw", "f1", "youden"):
        t, thr = fit_on_validation(ydv, pdv, positive, "macro-f1" if rule == "macro-f1-raw" else rule)
        if rule == "macro-f1-raw":  # the plain maximum, without the one-standard-error fall-back
            from clinitui.engine.evaluate import operating_point as op

            keep = op.paired_gain
            op.paired_gain = lambda *a, **kw: (1.0, 0.0)
            t, thr = fit_on_validation(ydv, pdv, positive, "macro-f1")
            op.paired_gain = keep
        out[rule] = round(f1(yte, predict_with_threshold(apply_temperature(pte, t), positive, thr), 2), 4)
        out[rule + "_thr"] = round(thr, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("names", nargs="+")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    ap.add_argument("--what", nargs="+", default=["c", "rules"])
    args = ap.parse_args()
    for seed in args.seeds:
        for name in args.names:
            part, names = read(args.out, name, seed)
            if "c" in args.what:
                print(json.dumps({"set": name, "seed": seed, **c_and_refit(part, len(names))}), flush=True)
            if "rules" not in args.what:
                continue
            if len(names) == 2:
                print(json.dumps({"set": name, "seed": seed, "task": "binary", **rules(part, 1)}), flush=True)
            elif name == "abstracts":
                x = features(part["train"][0], part["dev"][0], part["test"][0])
                for k in range(len(names)):  # class k against the rest: a minority positive class
                    bin_part = {s: (t, (y == k).astype(int)) for s, (t, y) in part.items()}
                    print(json.dumps({"set": name, "seed": seed, "task": f"class {k} vs rest", **rules(bin_part, 1, x)}),
                          flush=True)


if __name__ == "__main__":
    main()
