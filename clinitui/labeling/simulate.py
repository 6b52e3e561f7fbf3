"""Learning curves of active learning, with the gold labels standing in for the clinician.

``python -m clinitui.labeling.simulate --out DIR`` runs, on each set, for each strategy and seed:
label a random first batch of 50, then, every 50 labels, retrain and let the strategy pick the next
batch from the rest of the pool; the test macro-F1 is recorded at 50, 100, 200, 400, 480 and 800
labels. The target of issue 28: reach, with at most 480 labels (60 %), the F1 random sampling
reaches with 800 (docs/labeling.md has the numbers and the commands).

The model is a fast stand-in for the TF-IDF recipe (engine/tfidf/model.py fits word and character
n-grams and chooses C on a validation split: 3–8 s a fit here, too slow for the ~1,000 retrains of
a run): TF-IDF word 1–2-grams fitted once on the pool (unlabelled text is known, transductively),
then the same class-balanced logistic regression at C = 1. The full recipe per step is far beyond
this machine (2 shared cores): not measured.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from clinitui.labeling.strategies import choose

BUDGETS = (50, 100, 200, 400, 480, 800)
STEP = 50
SIM_STRATEGIES = ("random", "breaking-ties", "entropy", "least-confidence", "coreset")
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def load_set(name: str, shared: Path, pool_max: int, seed: int = 0):
    """(pool texts, pool labels, test texts, test labels, note) of a named set; ``pool_max`` subsamples."""
    import csv

    if name == "demo":
        from clinitui.data.demo import generate_notes

        texts, labels = generate_notes(3000, seed=0)
        order = np.random.default_rng(seed).permutation(len(texts))
        test, pool = order[:900], order[900:]
        rows = [(texts[i], str(labels[i]), "test" if k < 900 else "train") for k, i in enumerate(np.r_[test, pool])]
    else:
        path = shared / {"morfitt": "morfitt/morfitt_single_label.csv",
                         "abstracts": "medical_abstracts/medical_abstracts.csv"}[name]
        with open(path, encoding="utf-8", newline="") as fh:
            rows = [(r["text"], r["label"], r["split"]) for r in csv.DictReader(fh)]
    pool = [(t, y) for t, y, s in rows if s != "test"]
    test = [(t, y) for t, y, s in rows if s == "test"]
    note = f"pool {len(pool)}, test {len(test)}"
    if len(pool) > pool_max:
        keep = np.sort(np.random.default_rng(seed).choice(len(pool), pool_max, replace=False))
        pool = [pool[i] for i in keep]
        note += f" (pool subsampled to {pool_max})"
    return [t for t, _ in pool], [y for _, y in pool], [t for t, _ in test], [y for _, y in test], note


def curve(x_pool, y_pool, x_test, y_test, vectors, strategy: str, seed: int, n_classes: int) -> dict[int, float]:
    """Test macro-F1 at each of :data:`BUDGETS` for one strategy and seed."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    labelled = rng.permutation(len(y_pool))[:BUDGETS[0]]
    out: dict[int, float] = {}
    marks = sorted(set(BUDGETS) | set(range(BUDGETS[0], BUDGETS[-1] + 1, STEP)))
    for k, size in enumerate(marks):
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(x_pool[labelled], y_pool[labelled])
        if size in BUDGETS:
            out[size] = float(f1_score(y_test, model.predict(x_test), average="macro",
                                       labels=list(range(n_classes)), zero_division=0))
        if k + 1 == len(marks):
            break
        rest = np.setdiff1d(np.arange(len(y_pool)), labelled)
        probs = np.zeros((len(y_pool), n_classes))
        probs[:, model.classes_] = model.predict_proba(x_pool)
        rows, _ = choose(strategy, marks[k + 1] - size, rest, probs=probs, vectors=vectors, labelled=labelled,
                         seed=seed * 1000 + k)
        labelled = np.r_[labelled, rows]
    return out


def simulate(name: str, shared: Path, seeds: int = 3, pool_max: int = 2500) -> dict:
    """{"set", "note", "curves": {strategy: {budget: [F1 per seed]}}, "seconds"} for one set."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from clinitui.labeling.strategies import tfidf_vectors

    start = time.perf_counter()
    tp, yp, tt, yt, note = load_set(name, shared, pool_max)
    names = sorted(set(yp) | set(yt))
    index = {n: i for i, n in enumerate(names)}
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    x_pool, x_test = vec.fit_transform(tp), None
    x_test = vec.transform(tt)
    y_pool, y_test = np.array([index[y] for y in yp]), np.array([index[y] for y in yt])
    vectors = tfidf_vectors(tp)
    curves: dict[str, dict[int, list[float]]] = {}
    for strategy in SIM_STRATEGIES:
        per = [curve(x_pool, y_pool, x_test, y_test, vectors, strategy, s, len(names)) for s in range(seeds)]
        curves[strategy] = {b: [p[b] for p in per] for b in BUDGETS}
        print(f"{name} {strategy}: " + " ".join(f"{b}:{np.mean(curves[strategy][b]):.3f}" for b in BUDGETS), flush=True)
    return {"set": name, "note": note, "classes": len(names), "curves": curves,
            "seconds": round(time.perf_counter() - start, 1)}


def target(result: dict) -> dict[str, int | None]:
    """Per strategy: the fewest labels (of BUDGETS) whose mean F1 reaches random's mean F1 at 800."""
    goal = float(np.mean(result["curves"]["random"][BUDGETS[-1]]))
    out = {}
    for strategy, c in result["curves"].items():
        met = [b for b in BUDGETS if float(np.mean(c[b])) >= goal - 1e-9]
        out[strategy] = met[0] if met else None
    return out


def load_result(path: Path) -> dict:
    """A saved result with its label counts as ints again (JSON keeps object keys as strings)."""
    res = json.loads(path.read_text())
    res["curves"] = {s: {int(b): v for b, v in c.items()} for s, c in res["curves"].items()}
    return res


def render(results: list[dict], figure: Path) -> str:
    """The markdown table of ``results`` (mean ± range over seeds, and where the target is met), and the
    figure (report/plots.py ``learning_curves``) written to ``figure``."""
    import base64

    from clinitui.report.plots import learning_curves

    figure.write_bytes(base64.b64decode(learning_curves(results)))
    head = "| set | strategy | " + " | ".join(str(b) for b in BUDGETS) + " | reaches random@800 at |"
    lines = [head, "|" + "---|" * (len(BUDGETS) + 3)]
    for res in results:
        met = res.get("target") or target(res)
        for strategy, c in res["curves"].items():
            cells = [f"{np.mean(c[b]):.3f}" for b in BUDGETS]
            at = met[strategy]
            lines.append(f"| {res['set']} | {strategy} | " + " | ".join(cells) + " | "
                         + (f"{at}" + (" ✓" if at <= 480 else "") if at else "not within 800") + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sets", default="demo,morfitt,abstracts")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--pool-max", type=int, default=2500)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--render", type=Path, default=None, help="Only draw: the table on stdout, the figure here.")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render is not None:
        results = [load_result(args.out / f"{n}.json") for n in args.sets.split(",") if (args.out / f"{n}.json").exists()]
        print(render(results, args.render))
        return
    for name in args.sets.split(","):
        result = simulate(name, args.shared, args.seeds, args.pool_max)
        result["target"] = target(result)
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
