"""Calibration: how far predicted probabilities are from observed frequencies, and temperature scaling.

Binary tasks are measured on the positive class's probability; multi-class tasks on the *top
label* (the confidence of the predicted class against whether it was right), the usual reduction.
Temperature scaling divides the log-probabilities by one number T fitted on the validation split
(softmax(log p / T)): it is monotone, so it never changes which class is the most probable.
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-7
N_BINS = 10
T_BOUNDS = (0.05, 20.0)


def apply_temperature(probs: np.ndarray, temperature: float | None) -> np.ndarray:
    """softmax(log p / T), row-wise; T = None or 1 returns ``probs`` unchanged."""
    probs = np.asarray(probs, dtype=float)
    if temperature is None or temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def nll(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class."""
    p = np.clip(np.asarray(probs)[np.arange(len(y)), np.asarray(y)], EPS, 1.0)
    return float(-np.log(p).mean())


def fit_temperature(y: np.ndarray, probs: np.ndarray) -> float:
    """The T in [0.05, 20] that minimises validation NLL (bounded 1-D search on log T).

    Returns 1.0 when there is nothing to fit or scaling would not lower the NLL.
    """
    from scipy.optimize import minimize_scalar

    y = np.asarray(y)
    if len(y) < 2 or len(np.unique(y)) < 2:
        return 1.0
    if (np.asarray(probs).argmax(axis=1) == y).all():
        return 1.0  # perfectly separated: NLL falls as T -> 0, a fit would only make it overconfident
    res = minimize_scalar(lambda log_t: nll(y, apply_temperature(probs, math.exp(log_t))),
                          bounds=tuple(math.log(b) for b in T_BOUNDS), method="bounded", options={"xatol": 1e-4})
    t = float(math.exp(res.x))
    return round(t, 4) if nll(y, apply_temperature(probs, t)) < nll(y, probs) else 1.0


def _outcome(y: np.ndarray, probs: np.ndarray, positive_index: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, 0/1 outcome): positive-class probability for binary, top label otherwise."""
    y = np.asarray(y)
    if positive_index is not None:
        return probs[:, positive_index], (y == positive_index).astype(float)
    return probs.max(axis=1), (probs.argmax(axis=1) == y).astype(float)


def brier(y: np.ndarray, probs: np.ndarray, positive_index: int | None) -> float:
    """Binary: mean (p − y)²; multi-class: mean over notes of Σ_k (p_k − 1[y = k])²."""
    y = np.asarray(y)
    if positive_index is not None:
        p, o = _outcome(y, probs, positive_index)
        return float(np.mean((p - o) ** 2))
    onehot = np.eye(probs.shape[1])[y]
    return float(np.mean(((probs - onehot) ** 2).sum(axis=1)))


def reliability(y: np.ndarray, probs: np.ndarray, positive_index: int | None, n_bins: int = N_BINS) -> list[dict]:
    """Equal-width bins: mean predicted, observed frequency and count per non-empty bin."""
    p, o = _outcome(y, probs, positive_index)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            out.append({"bin": [b / n_bins, (b + 1) / n_bins], "predicted": float(p[mask].mean()),
                        "observed": float(o[mask].mean()), "n": int(mask.sum())})
    return out


def ece(y: np.ndarray, probs: np.ndarray, positive_index: int | None, n_bins: int = N_BINS) -> float:
    """Expected calibration error: count-weighted mean |observed − predicted| over the bins."""
    curve = reliability(y, probs, positive_index, n_bins)
    n = sum(b["n"] for b in curve)
    return float(sum(b["n"] * abs(b["observed"] - b["predicted"]) for b in curve) / max(n, 1))


def slope_intercept(y: np.ndarray, probs: np.ndarray, positive_index: int | None) -> tuple[float | None, float | None]:
    """Logistic recalibration: fit logit P(outcome) = a + b·logit(p); returns (b, a). Ideal: (1, 0).

    Newton-Raphson on two parameters; None when the outcome has one value or the fit diverges.
    """
    p, o = _outcome(y, probs, positive_index)
    if o.min() == o.max():
        return None, None
    p = np.clip(p, EPS, 1 - EPS)
    x = np.column_stack([np.ones_like(p), np.log(p / (1 - p))])
    w = np.zeros(2)
    for _ in range(50):
        mu = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        hess = x.T @ (x * (mu * (1 - mu))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, x.T @ (o - mu))
        w += step
        if np.abs(step).max() < 1e-8:
            break
    if not np.all(np.isfinite(w)) or np.abs(w).max() > 1e3:  # separable data: no finite fit
        return None, None
    return float(w[1]), float(w[0])


def measures(y: np.ndarray, probs: np.ndarray, positive_index: int | None) -> dict:
    slope, intercept = slope_intercept(y, probs, positive_index)
    return {"brier": brier(y, probs, positive_index), "ece": ece(y, probs, positive_index),
            "slope": slope, "intercept": intercept, "nll": nll(y, probs)}


def calibration_report(y: np.ndarray, raw_probs: np.ndarray, temperature: float | None,
                       positive_index: int | None) -> dict:
    """Calibration before and after the stored temperature, with reliability curves for both.

    Keys (the JSON contract): brier, ece, slope, intercept, temperature (the figures *after*
    scaling, i.e. what the checkpoint predicts) and ``before`` / ``after`` dicts with each set.
    """
    t = 1.0 if temperature is None else float(temperature)
    before = measures(y, raw_probs, positive_index)
    scaled = apply_temperature(raw_probs, t)
    after = measures(y, scaled, positive_index)
    return {
        **{k: after[k] for k in ("brier", "ece", "slope", "intercept")},
        "temperature": t,
        "kind": "positive class" if positive_index is not None else "top label",
        "before": before,
        "after": after,
        "reliability_before": reliability(y, raw_probs, positive_index),
        "reliability_after": reliability(y, scaled, positive_index),
    }
