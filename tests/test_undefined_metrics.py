"""Honest edge cases of issue 23: metrics a file cannot define are null with a warning, a file the TF-IDF
model cannot use is refused before training, and ``predict`` says which threshold chose its labels.

Unit tests on hand-built arrays; the CLI tests use the finished tiny runs of tests/fixtures/pre_reshape
(tests/test_compat.py) and a tiny training configuration that is refused before it trains.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.engine.evaluate import stats
from clinitui.engine.evaluate.assess import assess
from clinitui.engine.evaluate.metrics import classification_metrics, undefined_warning
from clinitui.engine.evaluate.multilabel import multilabel_metrics, undefined_labels_warning

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "pre_reshape"
runner = CliRunner()


def _probs(y: np.ndarray, n_classes: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(y), n_classes)) + 1.5 * np.eye(n_classes)[y]
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


# -- single-label metrics on hand-built arrays -----------------------------------------------------------

def test_one_class_present_gives_null_not_stand_in_numbers():
    y = np.ones(30, dtype=int)  # only the positive class '1'
    probs = _probs(y, 2)
    pred = probs.argmax(1)
    metrics, _ = assess(y, probs, ["0", "1"], 1, n_boot=200)
    assert metrics["per_class"]["0"] == {"precision": None, "recall": None, "f1": None, "support": 0,
                                         "precision_ci": None, "recall_ci": None, "f1_ci": None}
    assert metrics["roc_auc"] is None and metrics["roc_auc_ci"] is None
    assert metrics["pr_auc"] is None and metrics["pr_auc_ci"] is None  # 1.0 whatever the model, before
    # the macro averages run over the one class present: no absent class averaged in as 0
    assert metrics["recall_macro"] == pytest.approx(np.mean(pred == 1))
    assert metrics["f1_positive"] == metrics["per_class"]["1"]["f1"] is not None
    text = undefined_warning(y, ["0", "1"], 1)
    assert text.startswith("has only class '1'") and "ROC-AUC, PR-AUC" in text and "'0'" in text


def test_no_positive_note_nulls_the_positive_class_figures():
    y = np.zeros(25, dtype=int)
    metrics, _ = assess(y, _probs(y, 2), ["no", "yes"], 1, n_boot=100)
    for key in ("f1_positive", "precision_positive", "recall_positive", "roc_auc", "pr_auc"):
        assert metrics[key] is None and metrics[f"{key}_ci"] is None, key
    assert metrics["per_class"]["yes"]["support"] == 0 and metrics["per_class"]["yes"]["f1"] is None
    assert "the positive-class precision, recall and F1" in undefined_warning(y, ["no", "yes"], 1)


def test_an_absent_class_is_left_out_of_the_macro_averages():
    from sklearn.metrics import precision_recall_fscore_support

    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1])  # class 2 has no notes
    probs = _probs(y, 3, seed=3)
    pred = y.copy()
    pred[5] = 0
    pred[:2] = 2  # ...but is predicted twice: false alarms, which lower the recall of classes 0 and 1
    metrics = classification_metrics(y, probs, ["a", "b", "c"], None, y_pred=pred)
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=[0, 1], average="macro", zero_division=0)
    assert (metrics["precision_macro"], metrics["recall_macro"], metrics["f1_macro"]) == (p, r, f)
    cm = metrics["confusion_matrix"]
    assert metrics["per_class"]["c"]["f1"] is None and cm[0][2] + cm[1][2] == 2
    assert metrics["roc_auc"] is None  # one-vs-rest over every class needs every class
    rows = stats.metric_rows(y[None], pred[None], probs[None], None)
    assert rows["f1_macro"][0] == pytest.approx(f) and np.isnan(rows["class2_f1"][0])
    cis = stats.bootstrap_intervals(y, pred, probs, None, 200)
    assert cis["class2_f1"] is None and cis["f1_macro"] is not None and cis["pr_auc"] is not None
    assert "no notes of class 'c'" in undefined_warning(y, ["a", "b", "c"], None)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_with_every_class_present_the_figures_are_the_earlier_ones(n_classes):
    """Training-time metrics must not move: every class present means the plain averages over all
    classes, to the last bit (the same scikit-learn calls, the same numpy means)."""
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(n_classes)
    y = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, 80)])
    probs = _probs(y, n_classes, seed=n_classes)
    pred = np.zeros_like(y)  # one class never predicted: precision 0 there, averaged in as before
    pos = 1 if n_classes == 2 else None
    metrics = classification_metrics(y, probs, [str(k) for k in range(n_classes)], pos, y_pred=pred)
    every = list(range(n_classes))
    p, r, f, _ = precision_recall_fscore_support(y, pred, labels=every, average="macro", zero_division=0)
    assert (metrics["precision_macro"], metrics["recall_macro"], metrics["f1_macro"]) == (p, r, f)
    assert all(row["precision"] is not None for row in metrics["per_class"].values())
    assert undefined_warning(y, [str(k) for k in range(n_classes)], pos) is None
    idx = stats.stratified_indices(y, 50)
    rows = stats.metric_rows(y[idx], pred[idx], probs[idx], pos)
    tp, predicted, true = stats._class_counts(y[idx], pred[idx], n_classes)
    precision, recall = stats._safe_div(tp, predicted), stats._safe_div(tp, true)
    assert np.array_equal(rows["precision_macro"], precision.mean(axis=1))
    assert np.array_equal(rows["recall_macro"], recall.mean(axis=1))


@pytest.mark.parametrize("name", ["blend", "tfidf"])
def test_a_finished_runs_test_metrics_are_recomputed_to_the_bit(name):
    """metrics.json of a finished run, written before this change, from its predictions.json."""
    run = FIXTURE / "runs" / name
    pred = json.loads((run / "predictions.json").read_text(encoding="utf-8"))
    stored = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["metrics"]
    config = json.loads((run / "checkpoint" / "config.json").read_text(encoding="utf-8"))
    op = config["operating_point"]
    metrics, _ = assess(pred["test"]["y"], pred["test"]["probs"], pred["labels"], pred["positive_index"],
                        temperature=config["temperature"], threshold=op["threshold"], rule=op["rule"],
                        n_boot=pred["bootstrap"]["resamples"], seed=pred["bootstrap"]["seed"])
    assert {k: v for k, v in metrics.items() if k in stored} == {k: v for k, v in stored.items() if k in metrics}


def test_a_label_without_positives_is_null_in_multilabel_metrics():
    from sklearn.metrics import precision_recall_fscore_support

    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    probs = np.clip(y * 0.6 + np.linspace(0.1, 0.3, y.size).reshape(y.shape), 0, 1)
    probs[0, 2] = 0.9  # label 'c' predicted once: a false alarm
    m = multilabel_metrics(y, probs, ["a", "b", "c"], thresholds=[0.5] * 3)
    assert m["per_label"]["c"] == {"precision": None, "recall": None, "f1": None, "roc_auc": None, "support": 0}
    pred = (probs >= 0.5).astype(int)
    _, _, f, _ = precision_recall_fscore_support(y, pred, labels=[0, 1], average="macro", zero_division=0)
    assert m["f1_macro"] == f and m["f1_micro"] is not None
    text = undefined_labels_warning(y, ["a", "b", "c"])
    assert text.startswith("has no positive note for label 'c'") and "macro averages leave it out" in text
    assert undefined_labels_warning(np.ones((4, 2), dtype=int), ["a", "b"]).startswith("has every note positive")


# -- eval of a real checkpoint on a file with one class ----------------------------------------------------

def _one_class_file(tmp_path: Path, label: str) -> Path:
    rows = [r for r in csv.DictReader(open(FIXTURE / "notes.csv", encoding="utf-8")) if r["label"] == label][:30]
    path = tmp_path / "holdout.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_eval_of_a_one_class_file_warns_and_reports_null(tmp_path):
    data = _one_class_file(tmp_path, "1")
    result = runner.invoke(app, ["eval", str(FIXTURE / "runs" / "blend" / "checkpoint"), "--data", str(data),
                                 "--json", "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: holdout.csv [all] has only class '1': ROC-AUC, PR-AUC and the per-class figures "
                        "of '0' are undefined (null); macro averages cover the class present only"]
    out = json.loads(result.stdout)
    assert out["warnings"] == [warnings[0].removeprefix("warning: ")]
    assert out["pr_auc"] is None and out["pr_auc_ci"] is None and out["roc_auc"] is None
    assert out["per_class"]["0"]["precision"] is None and out["per_class"]["0"]["support"] == 0
    assert out["precision_macro"] == out["per_class"]["1"]["precision"]  # not (p + 0) / 2
    from rich.console import Console

    from clinitui.tui.screens.evaluate import report

    console = Console(record=True, width=160)
    console.print(report(out))  # the TUI's evaluate dialog draws the same payload
    shown = " ".join(console.export_text().split())  # long lines wrap
    assert warnings[0] in shown and "ROC-AUC -" in shown
    table = runner.invoke(app, ["eval", str(FIXTURE / "runs" / "blend" / "checkpoint"), "--data", str(data),
                                "--bootstrap", "0"])
    assert table.exit_code == 0 and "PR-AUC (average precision)" in table.stdout
    assert "0.500" not in table.stdout  # the old stand-in macro precision of a one-class file


# -- a file the TF-IDF model cannot use is refused before training ------------------------------------------

def test_unusable_reason_names_what_the_tfidf_model_needs():
    from clinitui.engine.tfidf.model import unusable_reason

    assert unusable_reason(["dyspnée stable", "patient dyspnée", "dyspnée ce jour", "x"]) is None
    assert unusable_reason(["12 40", "12 7", "3 12"]) is None  # a recurring number is a word to TF-IDF
    numbers = unusable_reason([f"{i * 7919 % 100000} {i * 104729 % 100000}" for i in range(50)])
    assert numbers.startswith("the text holds no letter at all") and "3 or more of the 50 training notes" in numbers
    assert unusable_reason(["un", "deux"]).startswith("no word of two or more letters or digits")


@pytest.mark.parametrize("extra", [[], ["--backbone", "tfidf"]])
def test_a_numbers_only_file_is_refused_before_any_run_exists(tmp_path, extra):
    data = tmp_path / "numbers.csv"
    with open(data, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for i in range(90):
            writer.writerow([" ".join(str((i * 7919 + k * 104729) % 100000) for k in range(6)), str(i % 2)])
    root = tmp_path / "runs"
    result = runner.invoke(app, ["train", "--data", str(data), "--runs-root", str(root), "--epochs", "1",
                                 "--set", "model.backbone_options.size=tiny", *extra])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("clinitui: error:"), result.stderr
    assert "no letter at all" in err[0] and ("--ensemble none" in err[0]) == (not extra)
    assert "Traceback" not in result.output and not root.exists()


# -- predict says which threshold chose its labels ------------------------------------------------------------

def test_predict_writes_and_says_the_locked_threshold(tmp_path):
    ckpt = tmp_path / "checkpoint"
    shutil.copytree(FIXTURE / "runs" / "blend" / "checkpoint", ckpt)
    config = json.loads((ckpt / "config.json").read_text(encoding="utf-8"))
    config["operating_point"] = {"rule": "sensitivity:0.95", "threshold": 0.342, "chosen_on": "validation"}
    (ckpt / "config.json").write_text(json.dumps(config), encoding="utf-8")
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(ckpt), "--data", str(FIXTURE / "notes.csv"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert ("predicted 1 when p(1) >= 0.342, the locked threshold (rule sensitivity:0.95, chosen on validation); "
            "otherwise 0") in result.stderr.splitlines()
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert list(rows[0]) == ["row", "predicted", "p_0", "p_1", "threshold"]
    assert {r["threshold"] for r in rows} == {"0.342"}
    assert all(r["predicted"] == ("1" if float(r["p_1"]) >= 0.342 else "0") for r in rows)
    assert any(r["predicted"] == "1" and float(r["p_1"]) < 0.5 for r in rows)  # what the column explains
    lines = runner.invoke(app, ["predict", str(ckpt), "--data", str(FIXTURE / "notes.csv")])
    assert [json.loads(x)["threshold"] for x in lines.stdout.splitlines()] == [0.342] * len(rows)


def test_predict_of_a_multilabel_checkpoint_gives_each_labels_threshold():
    result = runner.invoke(app, ["predict", str(FIXTURE / "runs" / "multi" / "checkpoint"),
                                 "--data", str(FIXTURE / "multi.csv")])
    assert result.exit_code == 0, result.output
    stored = json.loads((FIXTURE / "runs" / "multi" / "checkpoint" / "config.json").read_text())["label_thresholds"]
    names = ["0", "1", "2"]
    row = json.loads(result.stdout.splitlines()[0])
    assert [row[f"threshold_{n}"] for n in names] == [round(t, 6) for t in stored["thresholds"]]
    said = next(line for line in result.stderr.splitlines() if not line.startswith("using "))
    assert said.startswith("predicted each label when p(label) reaches its own threshold: 0 ") and "rule f1" in said
