"""``--ensemble tfidf``: blend the network's class probabilities with the strong TF-IDF model's.

Both parts are trained on the same training split. The blend is ``w · p_network + (1 − w) · p_tfidf``
with the network's weight ``w`` chosen on the validation split over the grid 0, 0.05, …, 1 by
macro-F1 (a multi-label run: by micro-F1, each candidate with its own per-label thresholds,
:func:`multilabel_score`). The grid holds both ends (w = 1: the network alone; w = 0: TF-IDF
alone), so on validation the blend is at least as good as the better of its parts by
construction. Ties go to the weight closest to 0.5 — an even blend averages out the two parts'
independent errors, which is what makes an ensemble generalise — and then to the larger network
weight. A single-label run then keeps that blend only when its gain over the better part alone is
real on validation (:func:`keep_blend`); otherwise it ships that part (w = 1 or 0).

The checkpoint keeps both: the network as usual, the TF-IDF model in ``checkpoint/tfidf/``
(engine/tfidf/model.py, no pickle), and in config.json the key
``ensemble = {"name": "tfidf", "weight": w, "path": "tfidf", "sha256": {file: digest}}``.
What a checkpoint predicts is the blend (engine/inference/predictor.py); temperature and threshold, when a
checkpoint has them, apply after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from clinitui.errors import CheckpointError, ConfigError, did_you_mean

KNOWN = ("tfidf",)
SUBDIR = "tfidf"
GRID = tuple(round(0.05 * i, 2) for i in range(21))
CROSS_FIT_REPEATS = 5  # random halvings of validation behind a blend's out-of-sample gain (cross_fitted_gain)


OFF = (None, "", "none")  # the network alone ("none" survives run.toml, which omits None values)


def wanted(name: str | None) -> bool:
    return name not in OFF


def check_ensemble(name: str | None) -> None:
    """ConfigError (exit 2) for an ensemble name clinitui does not know."""
    if wanted(name) and name not in KNOWN:
        raise ConfigError(f"unknown ensemble '{name}'{did_you_mean(name, list(KNOWN))}; "
                          f"known: {', '.join(KNOWN)}, or none for the network alone")


def blend(network: np.ndarray, tfidf: np.ndarray, weight: float) -> np.ndarray:
    return weight * np.asarray(network, dtype=np.float64) + (1.0 - weight) * np.asarray(tfidf, dtype=np.float64)


def choose_weight(network_val: np.ndarray, tfidf_val: np.ndarray, val_labels,
                  score: Callable[[np.ndarray, np.ndarray], float] | None = None) -> tuple[float, float]:
    """(network weight, validation score of the blend) — best on the grid; ties as the module says.

    ``score(val_labels, blended probabilities)`` rates one candidate; by default :func:`macro_f1`
    (single-label); a multi-label run passes :func:`multilabel_score`.
    """
    score = score or macro_f1
    y = np.asarray(val_labels)
    scored = []
    for w in GRID:
        scored.append((round(float(score(y, blend(network_val, tfidf_val, w))), 12), -abs(w - 0.5), w))
    best, _, w = max(scored)
    return w, best


def macro_f1(y: np.ndarray, probs: np.ndarray) -> float:
    """Macro-F1 of the most probable class (every class counts, predicted or not)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y, probs.argmax(1), average="macro", labels=list(range(probs.shape[1])), zero_division=0))


def multilabel_score(label_names: list[str], rule: str,
                     metric: str = "f1_micro") -> Callable[[np.ndarray, np.ndarray], float]:
    """A multi-label ``score`` for :func:`choose_weight`: ``metric`` of the blend with its own per-label
    thresholds chosen on validation by ``rule`` (engine/evaluate/multilabel.py)."""
    from clinitui.engine.evaluate.multilabel import choose_thresholds, multilabel_metrics

    def score(y: np.ndarray, probs: np.ndarray) -> float:
        return multilabel_metrics(y, probs, label_names, thresholds=choose_thresholds(y, probs, rule))[metric]

    return score


def attach(ckpt_dir: Path, model, weight: float) -> dict:
    """Save the TF-IDF model into ``ckpt_dir/tfidf`` and record the blend in config.json (atomically)."""
    from clinitui.engine.checkpoint.format import update_config

    ckpt_dir = Path(ckpt_dir)
    sha = model.save(ckpt_dir / SUBDIR)
    spec = {"name": "tfidf", "weight": weight, "path": SUBDIR, "sha256": sha}
    update_config(ckpt_dir, ensemble=spec)
    return spec


def load_part(info) -> tuple[object, float] | None:
    """(TF-IDF model, network weight) of a checkpoint with an ``ensemble`` key, else None."""
    from clinitui.engine.tfidf.load import load_tfidf

    spec = info.raw.get("ensemble")
    if not spec:
        return None
    try:
        name, weight, sub = spec["name"], float(spec["weight"]), str(spec["path"])
        if name not in KNOWN or not 0.0 <= weight <= 1.0 or "/" in sub or sub.startswith("."):
            raise ValueError(name)
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{info.path}: config.json has an invalid 'ensemble' entry; the checkpoint was "
                              "altered or damaged") from None
    model = load_tfidf(info.path / sub, spec.get("sha256"))
    if model.label_names != info.label_names:
        raise CheckpointError(f"{info.path / sub}: the TF-IDF model's labels differ from the network's; "
                              "the checkpoint was altered")
    return model, weight


def keep_blend(network_val: np.ndarray, tfidf_val: np.ndarray, val_labels, weight: float,
               val_history: list | None = None) -> tuple[float, dict]:
    """(weight shipped, metrics.json ``blend``): the grid's best ``weight`` only when its gain over the better
    part alone on validation is real (paired-bootstrap 95 % interval above zero, stats.real_gain), else that
    part (w = 1 or 0).

    The better part is the network only when *it* beats the TF-IDF model for real on validation; a tie
    within the noise goes to the TF-IDF model, the simpler predictor and the baseline every run prints
    (a network 0.004 ahead on 540 notes shipped alone scored 0.032 below it on test: docs/accuracy.md).
    The grid's maximum is chosen on the same notes it is scored on, so a gain of a note or two is what
    chance gives; a blend that cannot show more ships the simpler predictor, and says so.

    Both gains are measured out of sample (:func:`cross_fitted_gain`); with ``val_history`` (every
    epoch's validation probabilities) the network's epoch is chosen out of sample too.
    """
    from clinitui.engine.evaluate.stats import Z95, real_gain

    y = np.asarray(val_labels)
    history = [np.asarray(h, dtype=np.float64) for h in (val_history or [network_val])]
    tfidf_val = np.asarray(tfidf_val, dtype=np.float64)
    net_gain, net_se = cross_fitted_gain(history, tfidf_val, y, None)
    part = 1.0 if real_gain(net_gain, net_se) else 0.0
    name = "the network" if part == 1.0 else "the TF-IDF model"
    record = {"candidate_weight": weight, "part": name, "network_gain": round(net_gain, 6),
              "network_gain_se": round(net_se, 6)}
    if weight in (0.0, part):
        whole = "the network" if weight == 1.0 else "the TF-IDF model"
        return weight, {**record, "kept": False, "weight": weight, "val_gain": 0.0, "val_gain_se": 0.0,
                        "val_gain_ci": [0.0, 0.0], "reason": f"blend not kept: validation put all the weight on {whole}"}
    if weight == 1.0:  # all the weight on the network, whose lead over TF-IDF is inside the noise
        gain, se, what = net_gain, net_se, "network alone not kept: its"
    else:
        gain, se = cross_fitted_gain(history, tfidf_val, y, part)
        what = "blend not kept:"
    kept = weight != 1.0 and real_gain(gain, se)
    ci = [round(gain - Z95 * se, 6), round(gain + Z95 * se, 6)]
    reason = (f"blend kept: {gain:+.3f} macro-F1 on validation over {name} alone [{ci[0]:+.3f}, {ci[1]:+.3f}], "
              "each half's weight chosen on the other half"
              if kept else f"{what} {gain:+.3f} on validation over {name} alone [{ci[0]:+.3f}, {ci[1]:+.3f}] "
              f"is inside the noise; shipping {name} alone")
    shipped = weight if kept else part
    return shipped, {**record, "kept": kept, "weight": shipped, "val_gain": round(gain, 6), "val_gain_se": round(se, 6),
                     "val_gain_ci": ci, "reason": reason}


def cross_fitted_gain(history: list[np.ndarray], tfidf_val: np.ndarray, y: np.ndarray, part: float | None,
                      repeats: int = CROSS_FIT_REPEATS) -> tuple[float, float]:
    """(gain, its standard error) on validation, every choice made out of sample.

    ``part`` = None: the network alone against the TF-IDF model alone; 0.0 or 1.0: the blend against that
    part alone. The grid's best weight is a maximum over 21 candidates on the very notes that would score
    it, and the network's checkpoint is the epoch with the best validation score, so in-sample gains are
    optimistic: on the default demo runs, in-sample blend gains of +0.02–0.03 with intervals above zero
    came with test scores 0.007–0.016 below the TF-IDF model's. Here validation is halved (stratified);
    each half is predicted with the epoch (from ``history``, every epoch's validation probabilities;
    one entry: the checkpoint's) and the weight that the *other* half chose; the paired gain of those
    predictions is averaged, with its standard error, over ``repeats`` seeded halvings.
    """
    from clinitui.engine.evaluate.stats import DEFAULT_SEED, paired_gain

    k = tfidf_val.shape[1]
    rng = np.random.default_rng(DEFAULT_SEED)
    gains, ses = [], []
    for _ in range(repeats):
        half = np.zeros(len(y), dtype=bool)
        for label in np.unique(y):
            rows = rng.permutation(np.flatnonzero(y == label))
            half[rows[: len(rows) // 2]] = True
        rich, simple = np.empty(len(y), dtype=int), np.empty(len(y), dtype=int)
        # (notes predicted, notes that choose); too few notes to halve: chosen in sample, as before
        pairs = ((half, ~half), (~half, half)) if min(half.sum(), (~half).sum()) >= 2 else ((half | True,) * 2,)
        for fold, other in pairs:
            net = history[int(np.argmax([macro_f1(y[other], h[other]) for h in history]))]  # first best epoch
            if part is None:
                rich[fold], simple[fold] = net[fold].argmax(1), tfidf_val[fold].argmax(1)
                continue
            w, _ = choose_weight(net[other], tfidf_val[other], y[other])
            rich[fold] = blend(net[fold], tfidf_val[fold], w).argmax(1)
            simple[fold] = blend(net[fold], tfidf_val[fold], part).argmax(1)
        gain, se = paired_gain(y, rich, simple, k)
        gains.append(gain)
        ses.append(se)
    return float(np.mean(gains)), float(np.mean(ses))


def ensemble_with_tfidf(ckpt_dir: Path, dataset, network_val: np.ndarray, network_test: np.ndarray, model,
                        tfidf_val: np.ndarray, tfidf_test: np.ndarray, *, emit: Callable[..., None],
                        val_history: list | None = None) -> dict:
    """Blend the fitted TF-IDF ``model`` (its val/test probabilities given): weight by the grid, kept only
    when its gain is real (:func:`keep_blend`), attached to the checkpoint; metrics of the blend and the network."""
    from clinitui.engine.evaluate.metrics import classification_metrics

    best, _ = choose_weight(network_val, tfidf_val, dataset.val.labels)
    weight, record = keep_blend(network_val, tfidf_val, dataset.val.labels, best, val_history)
    spec = attach(ckpt_dir, model, weight)

    def metrics(labels, probs):
        return classification_metrics(labels, probs, dataset.label_names, dataset.positive_index)

    out = {
        "weight": weight, "blend": record,
        # probabilities for engine/recipes/finish.finalize (temperature, threshold, paired comparison); popped by the caller
        "val_probs": blend(network_val, tfidf_val, weight),
        "test_probs": blend(network_test, tfidf_test, weight),
        "val": metrics(dataset.val.labels, blend(network_val, tfidf_val, weight)),
        "network_val": metrics(dataset.val.labels, network_val),
        "tfidf_val": metrics(dataset.val.labels, tfidf_val),
        "test": metrics(dataset.test.labels, blend(network_test, tfidf_test, weight)),
        "network_test": metrics(dataset.test.labels, network_test),
    }
    emit("ensemble", name=spec["name"], weight=weight, kept=record["kept"], reason=record["reason"],
         val_f1_macro=out["val"]["f1_macro"], network_val_f1_macro=out["network_val"]["f1_macro"],
         tfidf_val_f1_macro=out["tfidf_val"]["f1_macro"], test_f1_macro=out["test"]["f1_macro"],
         network_test_f1_macro=out["network_test"]["f1_macro"],
         tfidf_test_f1_macro=metrics(dataset.test.labels, tfidf_test)["f1_macro"])
    return out
