"""The report's figures: each a view of numbers already in ``report.json``, drawn to a base64 PNG.

matplotlib is imported here only (Agg backend, no display), so nothing else pays its import cost.
"""

from __future__ import annotations

import base64
import io


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _axes(title: str, xlabel: str, ylabel: str, size=(4.2, 3.4)):
    plt = _plt()
    fig, ax = plt.subplots(figsize=size)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def roc(curves: dict) -> str | None:
    if not curves.get("roc"):
        return None
    fig, ax = _axes("ROC curve", "1 − specificity (FPR)", "sensitivity (TPR)")
    for name, c in curves["roc"].items():
        ax.plot(c["fpr"], c["tpr"], label=name)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.legend(fontsize=7)
    return _png(fig)


def pr(curves: dict) -> str | None:
    if not curves.get("pr"):
        return None
    fig, ax = _axes("Precision–recall curve", "recall", "precision")
    for name, c in curves["pr"].items():
        ax.plot(c["recall"], c["precision"], label=name)
    ax.legend(fontsize=7)
    return _png(fig)


def confusion(matrix: list[list[int]], labels: list[str]) -> str:
    import numpy as np

    plt = _plt()
    size = max(3.0, 0.5 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    data = np.asarray(matrix)
    ax.imshow(data, cmap="Blues")
    ax.set_xticks(range(len(labels)), [str(x)[:14] for x in labels], rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), [str(x)[:14] for x in labels], fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            ax.text(j, i, str(data[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if data[i, j] > data.max() / 2 else "black")
    ax.set_title("Confusion matrix", fontsize=10)
    return _png(fig)


def reliability(cal: dict) -> str:
    fig, ax = _axes(f"Reliability ({cal['kind']})", "mean predicted probability", "observed frequency")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="perfect")
    for key, label in (("reliability_before", "before scaling"), ("reliability_after", f"after (T = {cal['temperature']:.2f})")):
        pts = cal[key]
        ax.plot([p["predicted"] for p in pts], [p["observed"] for p in pts], marker="o", label=label)
    ax.legend(fontsize=7)
    return _png(fig)


def threshold(curve: dict, chosen: float | None) -> str:
    fig, ax = _axes("Metrics against the threshold", "threshold on p(positive)", "value")
    for key in ("sensitivity", "specificity", "ppv", "f1"):
        ax.plot(curve["threshold"], [float("nan") if v is None else v for v in curve[key]], label=key)
    if chosen is not None:
        ax.axvline(chosen, color="black", ls=":", label=f"locked {chosen:.3f}")
    ax.legend(fontsize=7)
    return _png(fig)


def decision(curve: dict) -> str:
    fig, ax = _axes("Decision curve", "threshold probability", "net benefit")
    ax.plot(curve["threshold"], curve["model"], label="model")
    ax.plot(curve["threshold"], curve["treat_all"], label="treat all", ls="--")
    ax.plot(curve["threshold"], curve["treat_none"], label="treat none", color="grey")
    top = max(max(curve["model"]), max(curve["treat_all"]), 0.01)
    ax.set_ylim(-0.05 * top - 0.01, top * 1.1)
    ax.legend(fontsize=7)
    return _png(fig)


def training(tr: dict, of: str = "the model") -> str | None:
    """Loss per step and validation figures per epoch; ``of`` says whose (a blend's curve is its network's)."""
    if not tr or not (tr.get("loss") or tr.get("val_f1_macro")):
        return None
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    a.plot(tr["step"], tr["loss"])
    a.set_title("training loss", fontsize=10)
    a.set_xlabel("optimizer step")
    b.plot(tr["epoch"], tr["val_f1_macro"], marker="o", label="val macro-F1")
    b.plot(tr["epoch"], tr["val_accuracy"], marker="s", label="val accuracy")
    b.set_title("validation" if of == "the model" else f"validation ({of})", fontsize=10)
    b.set_xlabel("epoch")
    b.legend(fontsize=7)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    return _png(fig)


def all_figures(report: dict) -> dict[str, str]:
    """Every figure the report has data for: {name: base64 PNG}."""
    c = report["curves"]
    figs = {"roc": roc(c), "pr": pr(c), "confusion": confusion(report["metrics"]["confusion_matrix"], report["labels"]),
            "reliability": reliability(report["calibration"]), "training": training(report.get("training"), (report.get("description") or {}).get("curve_of", "the model"))}
    if "threshold" in c:
        op = report.get("operating_point") or {}
        figs["threshold"] = threshold(c["threshold"], op.get("threshold"))
        figs["decision"] = decision(c["decision"])
    return {k: v for k, v in figs.items() if v}


def learning_curves(results: list[dict]) -> str:
    """Test macro-F1 against the number of labels, one panel per set, one line per strategy (mean of the
    seeds, the band their range): the simulation of clinitui/labeling/simulate.py (docs/labeling.md).
    ``results``: {"set", "curves": {strategy: {labels (int): [F1 per seed]}}} per set."""
    import numpy as np

    plt = _plt()
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.4), squeeze=False)
    for ax, res in zip(axes[0], results):
        for strategy, curve in res["curves"].items():
            xs = sorted(curve)
            runs = np.asarray([curve[b] for b in xs])
            line, = ax.plot(xs, runs.mean(1), marker="o", ms=3, label=strategy, lw=2 if strategy == "random" else 1.2)
            ax.fill_between(xs, runs.min(1), runs.max(1), color=line.get_color(), alpha=0.15)
        goal = float(np.mean(res["curves"]["random"][max(xs)]))
        ax.axhline(goal, ls="--", color="grey", lw=0.8)
        ax.axvline(0.6 * max(xs), ls=":", color="grey", lw=0.8)
        ticks = [x for x in xs if x != round(0.6 * max(xs))]  # the dotted line marks 60 %
        ax.set_xticks(ticks, [str(x) for x in ticks], fontsize=7)
        ax.set_title(res["set"], fontsize=10)
        ax.set_xlabel("labels")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test macro-F1")
    axes[0][0].legend(fontsize=7)
    return _png(fig)
