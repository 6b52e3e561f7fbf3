"""Benchmark (not a test): how should the ensemble choose its blend? A validation-only study.

For each finished run directory whose checkpoint holds a network + TF-IDF ensemble, this scores
the network and the TF-IDF model on the run's own validation and test notes, then compares ways
of combining them. Each scheme's parameters (blend weight, temperatures, threshold) are chosen on
a random half of the validation split and scored (macro-F1) on the other half, ``--reps`` times;
the mean is the evidence a decision may use. Test macro-F1 (parameters chosen on all of
validation) is printed for the record only — choosing a scheme on it would tune to test.

    python tests/benchmarks/blend_study.py RUN_DIR [RUN_DIR ...] [--reps 100]
    python tests/benchmarks/blend_study.py --pipeline RUN_DIR [...]

``--pipeline`` instead re-runs, with the code of this checkout, everything ``clinitui train`` does
after the network is trained (TF-IDF fit, blend weight on val, temperature and threshold on val,
test metrics and the paired comparison) on a copy of each run's checkpoint: the network's
training never depends on that stage, so this gives the run's figures under a changed TF-IDF
recipe or blend rule without retraining (a full re-run of seed 42 gives the same numbers).

Schemes: ``net`` / ``tfidf`` (each part alone), ``f1grid`` (clinitui's rule: network weight on
0, 0.05, …, 1 by validation macro-F1), ``llgrid`` (the same grid by log-loss), ``even`` (w = 0.5),
``cal_*`` (each part first temperature-scaled on validation, then the grid by F1 or log-loss),
``geo_*`` (a geometric blend of log-probabilities), ``*+thr`` (binary: then a threshold on the
positive class by that class's F1, as ``--threshold-rule f1`` does).
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import numpy as np

GRID = np.round(np.arange(21) * 0.05, 2)
TEMPS = np.exp(np.linspace(np.log(0.25), np.log(8.0), 41))


def run_probs(run: Path) -> dict:
    """Labels and each part's probabilities on the run's val and test split (no text leaves here)."""
    from clinitui.config.schema import RunConfig
    from clinitui.engine.checkpoint.folder import read_checkpoint_info
    from clinitui.engine.tfidf.blend import load_part
    from clinitui.engine.inference.predictor import network_probabilities
    from clinitui.engine.recipes.train import _dataset

    cfg = RunConfig.model_validate(tomllib.loads((run / "run.toml").read_text(encoding="utf-8")))
    ds, _ = _dataset(cfg)
    info = read_checkpoint_info(run / "checkpoint")
    part = load_part(info)
    if part is None:
        raise SystemExit(f"{run}: the checkpoint has no TF-IDF ensemble part (train with --ensemble tfidf)")
    tfidf, _ = part
    return {"yv": np.asarray(ds.val.labels), "yt": np.asarray(ds.test.labels),
            "nv": network_probabilities(info, ds.val.texts, 64, "cpu"),
            "nt": network_probabilities(info, ds.test.texts, 64, "cpu"),
            "tv": tfidf.predict_proba(ds.val.texts), "tt": tfidf.predict_proba(ds.test.texts)}


def macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    denom = 2 * tp + (cm.sum(0) - tp) + (cm.sum(1) - tp)
    return float(np.mean(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)))


def f1_of(y, p) -> float:
    return macro_f1(y, p.argmax(1), p.shape[1])


def nll(y, p) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))


def scaled(p, t: float):
    z = np.log(np.clip(p, 1e-12, 1.0)) / t
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def linear(n, t, w):
    return w * n + (1 - w) * t


def geometric(n, t, w):
    return scaled(np.exp(w * np.log(np.clip(n, 1e-12, 1)) + (1 - w) * np.log(np.clip(t, 1e-12, 1))), 1.0)


def pick(y, n, t, mix, by: str) -> float:
    if by == "f1":  # ties: the weight nearest 0.5, as engine/tfidf/blend.py
        return max((round(f1_of(y, mix(n, t, w)), 12), -abs(w - 0.5), w) for w in GRID)[2]
    return min((nll(y, mix(n, t, w)), w) for w in GRID)[1]


def temperature(y, p) -> float:
    return min((nll(y, scaled(p, t)), t) for t in TEMPS)[1]


def scheme(name: str, y, n, t):
    """A function (network probs, TF-IDF probs) -> probs, with parameters chosen on (y, n, t)."""
    base, _, thr = name.partition("+")
    if base == "net":
        f = lambda a, b: a  # noqa: E731
    elif base == "tfidf":
        f = lambda a, b: b  # noqa: E731
    elif base == "even":
        f = lambda a, b: linear(a, b, 0.5)  # noqa: E731
    else:
        cal, _, rest = base.rpartition("_") if base.startswith("cal_") else ("", "", base)
        mix = geometric if rest.startswith("geo") else linear
        by = "nll" if rest.endswith("ll") else "f1"
        tn, tt = (temperature(y, n), temperature(y, t)) if cal else (1.0, 1.0)
        w = pick(y, scaled(n, tn), scaled(t, tt), mix, by)
        f = lambda a, b: mix(scaled(a, tn), scaled(b, tt), w)  # noqa: E731
    if not thr or n.shape[1] != 2:
        return f
    pos = f(n, t)[:, 1]
    best = max((2 * ((pos >= c) & (y == 1)).sum() / max((pos >= c).sum() + (y == 1).sum(), 1), -c)
               for c in np.unique(np.quantile(pos, np.linspace(0.01, 0.99, 99))))
    cut = -best[1]
    return lambda a, b: np.stack([f(a, b)[:, 1] < cut, f(a, b)[:, 1] >= cut], axis=1).astype(float)


SCHEMES = ["net", "tfidf", "even", "f1grid", "llgrid", "geo_f1", "geo_ll", "cal_f1", "cal_ll", "cal_geo_ll",
           "f1grid+thr", "cal_f1+thr"]


def study(d: dict, reps: int, seed: int = 0) -> dict:
    y, n, t = d["yv"], d["nv"], d["tv"]
    rng = np.random.default_rng(seed)
    halves = [rng.permutation(len(y)) for _ in range(reps)]
    out = {}
    for name in SCHEMES:
        cv = []
        for idx in halves:
            a, b = idx[: len(y) // 2], idx[len(y) // 2:]
            cv.append(f1_of(y[b], scheme(name, y[a], n[a], t[a])(n[b], t[b])))
        out[name] = {"val_cv": float(np.mean(cv)), "val_cv_sd": float(np.std(cv)),
                     "test": f1_of(d["yt"], scheme(name, y, n, t)(d["nt"], d["tt"]))}
    return out


def pipeline(run: Path, keep: dict | None = None) -> dict:
    """The after-training stage of engine/recipes/train.py on a copy of ``run``'s checkpoint (this checkout's code)."""
    import json
    import shutil
    import tempfile

    from clinitui.config.schema import RunConfig
    from clinitui.engine.checkpoint.folder import read_checkpoint_info
    from clinitui.engine.tfidf.blend import ensemble_with_tfidf
    from clinitui.engine.tfidf.load import fit_for_run
    from clinitui.engine.recipes.finish import finalize
    from clinitui.engine.inference.predictor import network_probabilities
    from clinitui.engine.recipes.train import _dataset

    cfg = RunConfig.model_validate(tomllib.loads((run / "run.toml").read_text(encoding="utf-8")))
    ds, _ = _dataset(cfg)
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
        model, _, tv = fit_for_run(ds, seed=cfg.train.seed, refit=cfg.train.tfidf_refit)
        ens = ensemble_with_tfidf(ckpt, ds, nv, nt, model, tv, model.predict_proba(ds.test.texts),
                                  emit=lambda *a, **k: None)
        ens["tfidf_test_probs"] = model.predict_proba(ds.test.texts)
        ens["baseline"] = {"f1_macro": f1_of(np.asarray(ds.test.labels), ens["tfidf_test_probs"]), "C": model.c}
        metrics, extras = finalize(Path(tmp), ckpt, y_val=ds.val.labels, val_probs=ens["val_probs"],
                                   y_test=ds.test.labels, test_probs=ens["test_probs"], label_names=ds.label_names,
                                   positive_index=ds.positive_index, rule=cfg.train.threshold_rule,
                                   n_boot=cfg.train.bootstrap, baseline_probs=ens["tfidf_test_probs"])
    vs = extras.get("vs_baseline") or {}
    if keep is not None:  # for the seed-averaged checkpoint: what each member's checkpoint predicts
        keep.update(ds=ds, rule=cfg.train.threshold_rule, n_boot=cfg.train.bootstrap, tfidf=ens["tfidf_test_probs"])
        keep.setdefault("val", []).append(ens["val_probs"])
        keep.setdefault("test", []).append(ens["test_probs"])
    return {"run": run.name, "weight": ens["weight"], "network_val": ens["network_val"]["f1_macro"],
            "tfidf_val": ens["tfidf_val"]["f1_macro"], "blend_val": ens["val"]["f1_macro"],
            "network_test": ens["network_test"]["f1_macro"], "tfidf_test": ens["baseline"]["f1_macro"],
            "tfidf_C": ens["baseline"].get("C"), "model_test": metrics["f1_macro"],
            "delta_f1_macro_ci": vs.get("delta_f1_macro_ci"), "mcnemar_p": vs.get("mcnemar_p")}


def group(keep: dict) -> dict:
    import tempfile

    from clinitui.engine.recipes.finish import finalize

    ds = keep["ds"]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ckpt").mkdir()
        (Path(tmp) / "ckpt" / "config.json").write_text("{}")
        metrics, extras = finalize(Path(tmp), Path(tmp) / "ckpt", y_val=ds.val.labels, val_probs=np.mean(keep["val"], 0),
                                   y_test=ds.test.labels, test_probs=np.mean(keep["test"], 0),
                                   label_names=ds.label_names, positive_index=ds.positive_index, rule=keep["rule"],
                                   n_boot=keep["n_boot"], baseline_probs=keep["tfidf"])
    vs = extras.get("vs_baseline") or {}
    return {"run": f"seed-averaged ({len(keep['val'])} members)", "val": f1_of(np.asarray(ds.val.labels),
            np.mean(keep["val"], 0)), "model_test": metrics["f1_macro"],
            "delta_f1_macro_ci": vs.get("delta_f1_macro_ci"), "mcnemar_p": vs.get("mcnemar_p")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--pipeline", action="store_true", help="the run's after-training stage with this checkout's code")
    args = ap.parse_args()
    if args.pipeline:
        import json

        keep: dict = {}
        for run in args.runs:
            print(json.dumps(pipeline(run, keep)), flush=True)
        if len(args.runs) > 1:  # the runs as one seed group: the mean of the members, then val-chosen T + threshold
            print(json.dumps(group(keep)), flush=True)
        return
    for run in args.runs:
        d = run_probs(run)
        print(f"{run.name}: {len(d['yv'])} val notes, {d['nv'].shape[1]} classes")
        for name, r in study(d, args.reps).items():
            print(f"  {name:11s} val half→half {r['val_cv']:.4f} ± {r['val_cv_sd']:.4f}   (test {r['test']:.4f})")


if __name__ == "__main__":
    main()
