"""Metric reports on stdout (tables through ``cli.tables``) and the assessment lines on stderr."""

from __future__ import annotations

METRIC_ROWS = [
    ("accuracy", "Accuracy"), ("precision_macro", "Precision (macro)"), ("recall_macro", "Recall (macro)"),
    ("f1_macro", "F1 (macro)"), ("f1_weighted", "F1 (weighted)"), ("f1_positive", "F1 (positive class)"),
    ("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC (average precision)"),
    # multi-label (engine/evaluate/multilabel.py)
    ("f1_micro", "F1 (micro)"), ("f1_samples", "F1 (samples)"), ("precision_micro", "Precision (micro)"),
    ("recall_micro", "Recall (micro)"), ("subset_accuracy", "Subset accuracy"), ("hamming_loss", "Hamming loss"),
]


def fmt_ci(value, ci=None, digits: int = 3) -> str:
    """``0.861 [0.842, 0.879]``; ``n/a`` for a missing value."""
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    return f"{text} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else text


def print_metrics(metrics: dict, labels: list[str], title: str = "metrics") -> None:
    """The summary, per-class and confusion tables (``cli.tables``: Rich at a terminal, plain text elsewhere)."""
    from clinitui.cli.tables import print_heading, print_table

    print_heading(f"{title} (n={metrics.get('n', '?')})")
    print_table(["metric", "value [95% CI]"],
                [[name, fmt_ci(metrics[key], metrics.get(f"{key}_ci"))] for key, name in METRIC_ROWS if key in metrics],
                right=["value [95% CI]"])
    per_class = [[name, fmt_ci(row["precision"], row.get("precision_ci")), fmt_ci(row["recall"], row.get("recall_ci")),
                  fmt_ci(row["f1"], row.get("f1_ci")), str(row["support"])]
                 for name, row in metrics.get("per_class", {}).items()]
    # multi-label: one row per label, no confusion matrix
    per_class += [[name, fmt_ci(row["precision"]), fmt_ci(row["recall"]), fmt_ci(row["f1"]), str(row["support"])]
                  for name, row in (metrics.get("per_label") or {}).items()]
    print_table(["class", "precision", "recall", "F1", "support"], per_class,
                right=["precision", "recall", "F1", "support"])
    if metrics.get("per_label"):
        return
    print_heading("confusion matrix (rows: true label, columns: predicted)")
    print_table(["true \\ pred", *labels],
                [[name, *map(str, row)] for name, row in zip(labels, metrics.get("confusion_matrix", []))],
                right=labels)


def assessment_lines(payload: dict) -> list[str]:
    """Operating point, calibration, comparisons, subgroups, leakage and error ids in plain lines."""
    lines = []
    op = payload.get("operating_point")
    if op:
        lines.append(f"operating point ({op['rule']}, threshold {op['threshold']:.3f}): "
                     f"sensitivity {fmt_ci(op['sensitivity'], op['sensitivity_ci'])}, "
                     f"specificity {fmt_ci(op['specificity'], op['specificity_ci'])}, "
                     f"PPV {fmt_ci(op['ppv'], op['ppv_ci'])}, NPV {fmt_ci(op['npv'], op['npv_ci'])}, "
                     f"LR+ {fmt_ci(op['lr_pos'], digits=2)}, LR- {fmt_ci(op['lr_neg'], digits=2)}")
        if op.get("warning"):
            lines.append(f"warning: {op['warning']}")
    cal = payload.get("calibration")
    if cal:
        b = cal["before"]
        lines.append(f"calibration ({cal['kind']}): temperature {cal['temperature']:.3f}; Brier {b['brier']:.4f} -> "
                     f"{cal['brier']:.4f}, ECE {b['ece']:.4f} -> {cal['ece']:.4f}, slope {fmt_ci(cal['slope'], digits=2)}, "
                     f"intercept {fmt_ci(cal['intercept'], digits=2)}")
    if payload.get("vs_baseline"):
        if payload.get("vs_baseline_note"):
            lines.append(f"baseline: {payload['vs_baseline_note']}")
        lines.append(payload["vs_baseline"]["verdict"])
    elif payload.get("vs_baseline_note"):
        lines.append(f"no baseline comparison: {payload['vs_baseline_note']}")
    if payload.get("vs_compare"):
        lines.append(payload["vs_compare"]["verdict"])
    for g in payload.get("subgroups") or []:
        flag = " (too small to judge)" if g["too_small"] else ""
        lines.append(f"subgroup {g['group']}: n={g['n']}, events={g['events']}, "
                     f"F1 {fmt_ci(g['f1_macro'], g['f1_macro_ci'])}, accuracy {fmt_ci(g['accuracy'], g['accuracy_ci'])}{flag}")
    errors = payload.get("errors")
    if errors:
        for kind, rows in errors.items():
            lines.append(f"{kind.replace('_', ' ')} (ids): {', '.join(r['id'] for r in rows) or 'none'}")
    leak = payload.get("leakage")
    if leak and (leak["exact"] or leak["near"]):
        from clinitui.data.leakage import warning_text

        lines.append(f"warning: {warning_text(leak)}")
    if leak and leak.get("removed"):
        lines.append(f"--dedupe removed {leak['removed']['val']} validation and {leak['removed']['test']} test note(s)")
    return lines


def run_summary_lines(payload: dict) -> list[str]:
    """What only a training run reports: the positive class and why, the threshold-free figures of the
    model and of its baseline (both post-processed by the same rule), and whether the blend was kept."""
    lines = []
    pos = payload.get("positive_label")
    if pos:
        lines.append(f"positive class: {pos['label']} ({pos['why']}; --set data.positive_label=X to choose)")
    base = payload.get("baseline") or {}
    for who, m in (("model", payload.get("metrics") or {}), ("baseline", base)):
        free = [(name, m.get(key)) for key, name in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("log_loss", "log-loss"))]
        if m.get("log_loss") is not None:
            lines.append(f"threshold-free ({who}): " + ", ".join(f"{n} {v:.4f}" for n, v in free if v is not None))
    if payload.get("blend"):
        lines.append(payload["blend"]["reason"])
    return lines


def print_assessment(payload: dict) -> None:
    import sys

    for line in assessment_lines(payload):
        sys.stderr.write(line + "\n")
