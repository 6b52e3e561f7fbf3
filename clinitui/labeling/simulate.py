"""Learning curves of active learning, with the gold labels standing in for the clinician.

``python -m clinitui.labeling.simulate --out DIR`` runs, on each set, for each strategy and seed:
label a random first batch of 50, then, every 50 labels, retrain and let the strategy pick the next
batch from the rest of the pool; the test macro-F1 is recorded at 50, 100, 200, 400, 480 and 800
labels. The target of issue 28: reach, with at most 480 labels (60 %), the F1 random sampling
reaches with 800 (docs/labeling.md has the numbers and the commands).

``--model fast`` (default) is a stand-in for the TF-IDF recipe, whose fit (word and character
n-grams refitted on the labelled notes) takes 3–8 s here, too slow for the ~700 refits of a run:
TF-IDF word 1–2-grams fitted once on the pool (unlabelled text is known), then the recipe's
class-balanced logistic regression at C = 1. ``--model recipe`` is the recipe itself
(engine/tfidf/model.py, C = 1), refitted only at the budgets (batches of 50, 100, 200, 80, 320): the
check that the stand-in's conclusion holds. The default neural recipe per step is far beyond this
machine (2 shared cores): not measured.
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


class FastModel:
    """The simulation's stand-in: TF-IDF word 1–2-grams fitted once on the pool, class-balanced LR at C = 1."""

    def __init__(self, pool_texts: list[str], test_texts: list[str], names: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        self.x_pool = vec.fit_transform(pool_texts)
        self.x_test = vec.transform(test_texts)
        self.k = len(names)

    def fit(self, rows: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities over the pool, predicted test classes) after fitting on the pool ``rows``."""
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(self.x_pool[rows], y)
        probs = np.zeros((self.x_pool.shape[0], self.k))
        probs[:, model.classes_] = model.predict_proba(self.x_pool)
        return probs, model.predict(self.x_test)


class RecipeModel:
    """The TF-IDF recipe itself (engine/tfidf/model.py: word + char n-grams refitted on the labelled notes,
    min_df 3), at C = 1: no validation split to choose C on at 50 labels."""

    def __init__(self, pool_texts: list[str], test_texts: list[str], names: list[str]) -> None:
        self.pool, self.test, self.names = pool_texts, test_texts, names

    def fit(self, rows: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from clinitui.engine.tfidf.model import TfidfModel

        model = TfidfModel.fit([self.pool[r] for r in rows], y, [], [], self.names, c_grid=(1.0,))
        return model.predict_proba(self.pool), model.predict_proba(self.test).argmax(1)


# fast: the stand-in, refit every STEP; recipe: the recipe refit only at BUDGETS; screen: the recipe refit every
# STEP labels, as the labelling screen's loop does (the labels it picks feed tests/benchmarks/labeling_default_recipe.py)
MODELS = {"fast": (FastModel, STEP), "recipe": (RecipeModel, None), "screen": (RecipeModel, STEP)}


def curve(model, y_pool, y_test, vectors, strategy: str, seed: int, n_classes: int,
          step: int | None = STEP) -> tuple[dict[int, float], list[int]]:
    """Test macro-F1 at each of :data:`BUDGETS` for one strategy and seed, and the pool rows in the order they
    were labelled; a refit every ``step`` labels (None: only at the budgets)."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    labelled = rng.permutation(len(y_pool))[:BUDGETS[0]]
    out: dict[int, float] = {}
    marks = sorted(set(BUDGETS) | (set(range(BUDGETS[0], BUDGETS[-1] + 1, step)) if step else set()))
    for k, size in enumerate(marks):
        probs, predicted = model.fit(labelled, y_pool[labelled])
        if size in BUDGETS:
            out[size] = float(f1_score(y_test, predicted, average="macro", labels=list(range(n_classes)),
                                       zero_division=0))
        if k + 1 == len(marks):
            break
        rest = np.setdiff1d(np.arange(len(y_pool)), labelled)
        rows, _ = choose(strategy, marks[k + 1] - size, rest, probs=probs, vectors=vectors, labelled=labelled,
                         seed=seed * 1000 + k)
        labelled = np.r_[labelled, rows]
    return out, [int(r) for r in labelled]


def simulate(name: str, shared: Path, seeds: int = 3, pool_max: int = 2500, model: str = "fast",
             strategies: tuple[str, ...] = SIM_STRATEGIES) -> dict:
    """{"set", "note", "model", "curves": {strategy: {budget: [F1 per seed]}}, "seconds"} for one set."""
    from clinitui.labeling.strategies import tfidf_vectors

    start = time.perf_counter()
    tp, yp, tt, yt, note = load_set(name, shared, pool_max)
    names = sorted(set(yp) | set(yt))
    index = {n: i for i, n in enumerate(names)}
    cls, step = MODELS[model]
    fitter = cls(tp, tt, names)
    y_pool, y_test = np.array([index[y] for y in yp]), np.array([index[y] for y in yt])
    vectors = tfidf_vectors(tp)
    curves: dict[str, dict[int, list[float]]] = {}
    orders: dict[str, list[list[int]]] = {}  # pool rows in labelling order, per seed (row numbers, no text)
    for strategy in strategies:
        runs = [curve(fitter, y_pool, y_test, vectors, strategy, s, len(names), step) for s in range(seeds)]
        per = [r[0] for r in runs]
        curves[strategy] = {b: [p[b] for p in per] for b in BUDGETS}
        orders[strategy] = [r[1] for r in runs]
        print(f"{name} {model} {strategy}: " + " ".join(f"{b}:{np.mean(curves[strategy][b]):.3f}" for b in BUDGETS),
              flush=True)
    return {"set": name, "note": note, "model": model, "classes": len(names), "curves": curves, "orders": orders,
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
    ap.add_argument("--model", choices=list(MODELS), default="fast")
    ap.add_argument("--strategies", default=",".join(SIM_STRATEGIES))
    ap.add_argument("--render", type=Path, default=None, help="Only draw: the table on stdout, the figure here.")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render is not None:
        files = [args.out / f"{n}{'' if args.model == 'fast' else '-' + args.model}.json" for n in args.sets.split(",")]
        results = [load_result(f) for f in files if f.exists()]
        print(render(results, args.render))
        return
    for name in args.sets.split(","):
        result = simulate(name, args.shared, args.seeds, args.pool_max, args.model, tuple(args.strategies.split(",")))
        result["target"] = target(result)
        suffix = "" if args.model == "fast" else f"-{args.model}"
        (args.out / f"{name}{suffix}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
