"""Multi-label tasks (issue 14 part 1): metrics, thresholds, stratification, and the CLI end to end."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.kinds import Task
from clinitui.data.multilabel_demo import write_multilabel_file
from clinitui.data.readers import Table
from clinitui.data.stratify import iterative_split
from clinitui.engine.evaluate.multilabel import apply_thresholds, choose_thresholds, multilabel_metrics
from clinitui.events import read_events
from clinitui.runs import summarize
from tests.conftest import TINY
from tests.test_faults import wait_exit, wait_for_step
from tests.test_privacy import CANARY, files_with_canary

runner = CliRunner()
ML = ["--task", "multilabel", "--set", "train.bootstrap=0"]


# -- metrics and thresholds ------------------------------------------------------------------
def test_metrics_match_scikit_learn_on_a_hand_made_example():
    from sklearn.metrics import f1_score, hamming_loss, precision_score, recall_score, roc_auc_score

    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0], [1, 0, 1], [0, 1, 1]])
    probs = np.array([[.9, .2, .6], [.3, .8, .1], [.7, .4, .2], [.1, .3, .4], [.4, .1, .9], [.2, .7, .3]])
    thresholds = [0.5, 0.35, 0.5]
    pred = apply_thresholds(probs, thresholds)
    assert pred.tolist() == [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1], [0, 1, 0]]
    m = multilabel_metrics(y, probs, ["a", "b", "c"], thresholds=thresholds)
    for avg in ("micro", "macro"):
        assert m[f"f1_{avg}"] == pytest.approx(f1_score(y, pred, average=avg, zero_division=0))
    # an empty set predicted for a note with no label is right (row 4)
    assert m["f1_samples"] == pytest.approx(f1_score(y, pred, average="samples", zero_division=1))
    assert m["precision_micro"] == pytest.approx(precision_score(y, pred, average="micro"))
    assert m["recall_macro"] == pytest.approx(recall_score(y, pred, average="macro"))
    assert m["hamming_loss"] == pytest.approx(hamming_loss(y, pred)) == pytest.approx(2 / 18)
    assert m["subset_accuracy"] == pytest.approx(4 / 6)
    for k, name in enumerate("abc"):
        row = m["per_label"][name]
        assert row["f1"] == pytest.approx(f1_score(y[:, k], pred[:, k]))
        assert row["roc_auc"] == pytest.approx(roc_auc_score(y[:, k], probs[:, k]))
        assert row["support"] == int(y[:, k].sum())
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, probs, average="macro"))


def test_thresholds_maximise_each_labels_f1_and_a_label_absent_from_validation_keeps_one_half():
    y = np.array([[1, 0], [1, 0], [0, 0], [0, 0], [1, 0]])
    probs = np.array([[.30, .9], [.25, .1], [.20, .2], [.05, .3], [.40, .4]])
    t = choose_thresholds(y, probs)
    assert 0.20 < t[0] <= 0.25  # all three positives above it, the negatives below: F1 = 1
    assert t[1] == 0.5
    assert multilabel_metrics(y[:, :1], probs[:, :1], ["a"], thresholds=t[:1])["f1_micro"] == 1.0
    fixed = choose_thresholds(y, probs, "0.3")
    assert fixed == [0.3, 0.3]


def test_iterative_stratification_keeps_every_label_in_every_split_and_is_deterministic():
    rng = np.random.default_rng(0)
    sets = [[k for k in range(6) if rng.random() < (0.5 if k < 3 else 0.06)] for _ in range(400)]
    parts = iterative_split(sets, 6, (0.8, 0.1, 0.1), seed=13)
    assert parts == iterative_split(sets, 6, (0.8, 0.1, 0.1), seed=13)
    assert parts != iterative_split(sets, 6, (0.8, 0.1, 0.1), seed=14)
    assert sorted(i for p in parts for i in p) == list(range(400))
    assert [len(p) for p in parts] == pytest.approx([320, 40, 40], abs=3)
    for k in range(6):
        total = sum(k in s for s in sets)
        for part, share in zip(parts, (0.8, 0.1, 0.1)):
            got = sum(k in sets[i] for i in part)
            assert got >= 1 and abs(got - share * total) <= 1.5, (k, got, share * total)


def test_jsonl_list_labels_and_empty_sets_make_a_multi_hot_dataset(tmp_path):
    from clinitui.data.multilabel import make_multilabel_dataset
    from clinitui.data.readers import read_table
    from clinitui.errors import DataError

    path = tmp_path / "notes.jsonl"
    rows = [{"text": f"note {i}", "label": [["b", "a"], [], ["c"], ["a", "a"]][i % 4]} for i in range(80)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ds = make_multilabel_dataset(read_table(path, multilabel=True), seed=1)
    assert ds.label_names == ["a", "b", "c"] and ds.task is Task.MULTILABEL and ds.split_kind.startswith("iterative")
    every = ds.train.labels + ds.val.labels + ds.test.labels
    assert sorted(map(tuple, every)) == sorted([(1, 1, 0), (0, 0, 0), (0, 0, 1), (1, 0, 0)] * 20)
    assert ds.counts()["train"]["a"] == sum(r[0] for r in ds.train.labels)
    with pytest.raises(DataError, match="--task multilabel"):
        read_table(path)  # a list label in a single-label run


# -- guard rails and bad input ----------------------------------------------------------------
def test_guard_rail_fires_on_a_joined_label_column_and_not_on_ordinary_labels():
    from clinitui.data.guard import check_single_label
    from clinitui.data.multilabel_demo import generate_multilabel_notes
    from clinitui.errors import DataError

    texts, sets = generate_multilabel_notes(300, seed=1)
    joined = Table(texts, ["|".join(s) or "none" for s in sets], source="notes.csv")
    with pytest.raises(DataError) as err:
        check_single_label(joined)
    msg = str(err.value)
    assert "\n" not in msg and "--task multilabel --label-sep '|'" in msg and "--task multiclass" in msg
    plain = Table(texts, [s[0] if s else "none" for s in sets], source="notes.csv")
    check_single_label(plain)  # one label per note: nothing to say
    descriptive = Table(texts[:40], [f"cardio, {i}" for i in range(4)] * 10 + [], source="x")
    check_single_label(descriptive)  # a comma inside four ordinary class names
    many = Table([f"t{i}" for i in range(300)], [f"c{i % 150}" for i in range(300)], source="x")
    with pytest.raises(DataError, match=r"150 classes .* … 145 more"):
        check_single_label(many)


def test_task_multiclass_keeps_combinations_as_classes_without_the_guard_rail():
    from clinitui.data.multilabel_demo import generate_multilabel_notes
    from clinitui.data.splits import make_dataset
    from clinitui.errors import DataError

    texts, sets = generate_multilabel_notes(300, seed=1)
    labels = ["|".join(s) or "aucun" for s in sets]
    splits = ["test" if i % 5 == 0 else "val" if i % 5 == 1 else "train" for i in range(300)]
    table = Table(texts, labels, splits, source="notes.csv")
    ds = make_dataset(table, task="multiclass")
    assert len(ds.label_names) == len(set(labels)) > 10 and ds.task is Task.MULTICLASS
    with pytest.raises(DataError, match="joined label sets"):
        make_dataset(table, task="auto")


def test_positive_weights_favour_rare_labels():
    import torch

    from clinitui.config.schema import TrainConfig
    from clinitui.engine.train.losses import make_loss

    labels = [[1, 0]] * 2 + [[1, 1]] * 2 + [[0, 0]] * 4  # label 0: 4 of 8 positive; label 1: 2 of 8
    logits, target = torch.zeros(1, 2), torch.tensor([[1, 1]])
    plain = make_loss(TrainConfig(), labels, 2, torch.device("cpu"))(logits, target)
    balanced = make_loss(TrainConfig(pos_weight="balanced"), labels, 2, torch.device("cpu"))(logits, target)
    sqrt = make_loss(TrainConfig(pos_weight="sqrt"), labels, 2, torch.device("cpu"))(logits, target)
    ln2 = float(np.log(2))
    assert float(plain) == pytest.approx(ln2)  # mean over the note's two labels
    assert float(balanced) == pytest.approx((1 * ln2 + 3 * ln2) / 2)  # weights neg/pos: 1 and 3
    assert float(sqrt) == pytest.approx((1 * ln2 + 3 ** 0.5 * ln2) / 2)


def run_cli(args: list[str]):
    return runner.invoke(app, args)


def test_a_joined_column_stops_a_default_run_before_anything_is_created(tmp_path):
    data = tmp_path / "ml.csv"
    write_multilabel_file(data, 300, seed=2)
    lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
    data.write_text("".join(line for line in lines if not line.rstrip().endswith(",")), encoding="utf-8")
    result = run_cli(["train", "--data", str(data), "--runs-root", str(tmp_path / "runs"), *TINY])
    assert result.exit_code == 2
    assert result.output.count("\n") <= 2 and "--task multilabel" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("case, expect", [
    ("sep", "--label-sep ';' never occurs"),
    ("empty", "empty label in its set"),
    ("single", "needs two or more labels"),
])
def test_bad_multilabel_input_gets_one_line_and_exit_2(tmp_path, case, expect):
    data = tmp_path / "bad.csv"
    labels = {"sep": ["a|b", "a", "b"], "empty": ["a|b", "a||b", "b"], "single": ["a", "", "a"]}[case]
    data.write_text("text,label\n" + "".join(f"note number {i},{labels[i % 3]}\n" for i in range(30)),
                    encoding="utf-8")
    extra = ["--label-sep", ";"] if case == "sep" else []
    result = run_cli(["train", "--data", str(data), "--runs-root", str(tmp_path / "runs"), *ML, *extra, *TINY])
    assert result.exit_code == 2, result.output
    assert expect in result.output and result.output.strip().count("\n") == 0 and "Traceback" not in result.output


# -- end to end: train, eval, predict, kill -9 and resume, canary -------------------------------
SETTINGS = [*TINY, *ML, "--epochs", "2", "--set", "train.batch_size=4", "--set", "train.early_stopping=false",
            "--set", "model.ensemble=tfidf"]  # 48 steps per epoch


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    import csv

    path = tmp_path_factory.mktemp("ml") / "notes.csv"
    write_multilabel_file(path, 240, seed=0)
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    for i in (3, 40):
        rows[i]["text"] += f" patient {CANARY} vu ce jour"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["text", "label"])
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def reference(notes, tmp_path_factory) -> dict:
    run = tmp_path_factory.mktemp("ref") / "run"
    result = run_cli(["train", "--data", str(notes), "--run-dir", str(run), "--json", "--quiet", *SETTINGS])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_locks_thresholds_chosen_on_validation_and_applies_them_on_test(reference):
    run = Path(reference["run_dir"])
    config = json.loads((run / "checkpoint" / "config.json").read_text())
    assert config["task"] == "multilabel" and config["label_sep"] == "|"
    assert config["ensemble"]["name"] == "tfidf"
    record = json.loads((run / "predictions.json").read_text())
    names = reference["labels"]
    chosen = choose_thresholds(np.array(record["val"]["y"]), np.array(record["val"]["probs"]))
    assert config["label_thresholds"]["thresholds"] == pytest.approx(chosen, abs=1e-5)
    test = multilabel_metrics(record["test"]["y"], record["test"]["probs"], names, thresholds=chosen)
    m = reference["metrics"]
    assert m["f1_micro"] == pytest.approx(test["f1_micro"]) and m["f1_macro"] == pytest.approx(test["f1_macro"])
    for key in ("f1_micro", "f1_macro", "f1_samples", "subset_accuracy", "hamming_loss", "per_label"):
        assert key in m and key in reference["baseline"]
    assert set(m["per_label"]) == set(names) == {"cardio", "infectio", "neuro", "renal", "respi"}
    assert m["f1_micro"] > 0.7  # the synthetic labels are learnable
    events = read_events(run)
    assert any(e["type"] == "checkpoint" and e["metric"] == "f1_micro" for e in events)


def test_eval_and_predict_agree_with_training(reference, notes, tmp_path):
    run = Path(reference["run_dir"])
    import csv

    rows = list(csv.DictReader(open(notes, encoding="utf-8")))
    result = run_cli(["predict", str(run), "--data", str(notes), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    out = list(csv.DictReader(open(tmp_path / "p.csv", encoding="utf-8")))
    assert len(out) == len(rows) and set(out[0]) == {"row", "predicted"} | {
        f"{c}_{n}" for n in reference["labels"] for c in ("p", "threshold")}
    thresholds = reference["label_thresholds"]
    for row in out[:50]:
        expect = {n for n in reference["labels"] if float(row[f"p_{n}"]) >= thresholds[n] - 1e-6}
        assert set(filter(None, row["predicted"].split("|"))) == expect
    result = run_cli(["eval", str(run), "--data", str(notes), "--json"])
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    predicted = [set(filter(None, r["predicted"].split("|"))) for r in out]
    truth = [set(filter(None, r["label"].split("|"))) for r in rows]
    assert scored["subset_accuracy"] == pytest.approx(np.mean([p == t for p, t in zip(predicted, truth)]))


@pytest.mark.slow  # kill -9 and resume of a detached run
def test_kill_9_and_resume_give_the_uninterrupted_metrics_and_no_note_text_leaks(notes, reference, tmp_path):
    run = tmp_path / "killed"
    result = run_cli(["train", "--data", str(notes), "--run-dir", str(run), "--detach", "--json", *SETTINGS,
                      "--set", "model.ensemble=none", "--set", "train.state_every_s=0"])
    assert result.exit_code == 0, result.output
    pid = json.loads(result.stdout)["pid"]
    wait_for_step(run, 56)  # epoch 2 of 2 × 48 steps
    os.kill(pid, signal.SIGKILL)
    assert wait_exit(pid) == -signal.SIGKILL and summarize(run).status == "crashed"
    resumed = run_cli(["train", "--resume", str(run), "--json", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    payload = json.loads(resumed.stdout)
    ref = reference["network"]  # the reference blended with TF-IDF; its network part is this run's network
    assert payload["metrics"]["f1_micro"] == pytest.approx(ref["f1_micro"], abs=1e-12)
    assert payload["metrics"]["per_label"] == ref["per_label"]
    assert payload["steps"] == reference["steps"]
    assert files_with_canary(run) == []


def test_onnx_export_predicts_the_same_label_sets(reference, notes, tmp_path):
    import csv

    run = Path(reference["run_dir"])
    result = run_cli(["export", str(run), "--out", str(tmp_path / "onnx")])
    assert result.exit_code == 0, result.output
    for target, out in ((run, tmp_path / "torch.csv"), (tmp_path / "onnx", tmp_path / "onnx.csv")):
        result = run_cli(["predict", str(target), "--data", str(notes), "--out", str(out)])
        assert result.exit_code == 0, result.output
    torch_rows = list(csv.DictReader(open(tmp_path / "torch.csv", encoding="utf-8")))
    onnx_rows = list(csv.DictReader(open(tmp_path / "onnx.csv", encoding="utf-8")))
    assert [r["predicted"] for r in onnx_rows] == [r["predicted"] for r in torch_rows]
    for a, b in zip(torch_rows, onnx_rows):
        for name in reference["labels"]:
            assert float(a[f"p_{name}"]) == pytest.approx(float(b[f"p_{name}"]), abs=1e-4)


def test_features_without_multilabel_support_say_so_in_one_line(reference, notes, tmp_path):
    run = Path(reference["run_dir"])
    for args in (["report", str(run), "--out", str(tmp_path / "r.html")],
                 ["eval", str(run), "--data", str(notes), "--compare", str(run)],
                 ["train", "--data", str(notes), "--runs-root", str(tmp_path / "runs"), *ML, *TINY, "--seeds", "2"]):
        result = run_cli(args)
        assert result.exit_code == 2, (args, result.output)
        said = [line for line in result.output.strip().splitlines() if not line.startswith("using ")]
        assert "multi-label" in result.output and len(said) == 1  # one line (after the run it resolved)


def test_paired_micro_f1_matches_hand_counts_and_the_promote_rule_refuses_a_worse_model():
    from clinitui.engine.evaluate.multilabel import paired_micro_f1
    from clinitui.promote import _judge_multilabel

    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]] * 10, dtype=bool)
    good = y.copy()
    bad = np.array([[1, 0, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0]] * 10, dtype=bool)  # TP 20, FN 40, FP 0
    out = paired_micro_f1(y, bad, good, n_resamples=200, seed=0)
    assert out["f1_micro_b"] == 1.0 and abs(out["f1_micro_a"] - 2 * 20 / (2 * 20 + 40)) < 1e-12
    assert out["delta_f1_micro_ci"][1] < 0 < out["delta_f1_micro_ci"][1] + 1
    refused = _judge_multilabel(y, bad, good, "recent.csv", 200)
    assert refused["decision"] == "refuse" and "falls short" in refused["reason"] and "micro-F1" in refused["reason"]
    same = _judge_multilabel(y, good, good, "recent.csv", 200)
    assert same["decision"] == "promote" and same["delta_f1_micro"] == 0.0


def test_promote_if_better_compares_multilabel_models_by_micro_f1(reference, notes, tmp_path):
    run = Path(reference["run_dir"])
    deploy = tmp_path / "deploy" / "current"
    for _ in range(2):  # the second time the same model is compared with itself: not worse, promoted
        out = run_cli(["promote", str(run), "--to", str(deploy), "--if-better", "--data", str(notes),
                       "--bootstrap", "100", "--json"])
        assert out.exit_code == 0, out.output
    cmp = json.loads(out.stdout)["comparison"]
    assert cmp["metric"] == "f1_micro" and cmp["delta_f1_micro"] == 0.0 and cmp["decision"] == "promote"
