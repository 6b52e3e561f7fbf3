"""``clinitui report`` and the evaluation contract end to end, on a real tiny run.

One run is trained for the module (a few seconds); every test reads it or a copy of it.
"""

from __future__ import annotations

import base64
import json
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.engine.evaluate.operating_point import HEADLINE
from tests.conftest import TINY, make_rows, write_csv
from tests.test_privacy import CANARY, files_with_canary

BOOT = ["--bootstrap", "200"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    rows = make_rows(240, seed=21)
    for i, row in enumerate(rows):
        row["split"] = {0: "test", 1: "dev", 2: "test"}.get((i // 2) % 10, "train")
        row["pid"] = f"PAT{i:04d}"
        row["ward"] = "nicu" if (i // 4) % 3 == 0 else "picu"
    for i in (3, 40, 44):
        rows[i]["text"] += f" patient {CANARY} vu ce jour"
    data = write_csv(root / "notes.csv", rows)
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--split-col", "split", "--run-dir",
                                      str(root / "run"), *TINY, "--epochs", "2", *BOOT,
                                      "--set", "model.backbone_options.min_frequency=3", "--json"])
    assert result.exit_code == 0, result.output
    return root / "run", data, json.loads(result.stdout)


class _Doc(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.links = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.imgs.append(attrs.get("src", ""))
        for key in ("href", "src"):
            if key in attrs and not str(attrs[key]).startswith("data:"):
                self.links.append(attrs[key])


def test_training_records_intervals_calibration_operating_point_and_baseline(trained):
    run, _, payload = trained
    m = payload["metrics"]
    for key in ("accuracy", "f1_macro", "roc_auc", "pr_auc", "precision_macro", "recall_macro"):
        lo, hi = m[f"{key}_ci"]
        assert lo <= m[key] <= hi
    assert {"brier", "ece", "slope", "intercept", "temperature", "before", "after"} <= set(payload["calibration"])
    op = payload["operating_point"]
    assert {"rule", "threshold", "sensitivity", "sensitivity_ci", "specificity", "ppv", "npv_ci", "lr_pos", "lr_neg"} <= set(op)
    vs = payload["vs_baseline"]
    assert {"delta_f1_macro", "delta_f1_macro_ci", "delta_roc_auc", "delta_roc_auc_ci", "mcnemar_p"} <= set(vs)
    assert payload["leakage"]["exact"] == 0 and payload["leakage"]["threshold"] == 0.95
    config = json.loads((run / "checkpoint" / "config.json").read_text())
    assert config["temperature"] == payload["calibration"]["temperature"]
    assert config["operating_point"]["threshold"] == op["threshold"] and config["operating_point"]["rule"] == HEADLINE["binary"]
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["metrics"]["f1_macro_ci"] == m["f1_macro_ci"]


def test_report_html_is_self_contained_offline_and_private(trained, tmp_path):
    run, _, _ = trained
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    doc = _Doc()
    doc.feed(html)
    doc.close()
    assert doc.tags[0] == "html" and "script" not in doc.tags and doc.links == []
    assert len(doc.imgs) >= 7  # training, ROC, PR, confusion, reliability, threshold, decision
    for src in doc.imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1], validate=True)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    for heading in ("Metrics with 95% intervals", "Calibration", "Operating point", "Comparison with the baseline",
                    "Leakage between the training run's splits", "Model card", "[to be completed]",
                    "Data and splits of the training run"):
        assert heading in html
    report = json.loads(out.with_suffix(".json").read_text())
    assert CANARY.lower() not in html.lower() and CANARY.lower() not in json.dumps(report).lower()
    assert files_with_canary(tmp_path) == [] and files_with_canary(run) == []
    assert "PAT0" not in html  # no ids unless --id-col


def test_report_json_equals_metrics_json_and_eval_json(trained, tmp_path):
    run, data, payload = trained
    runner = CliRunner()
    out = tmp_path / "r.html"
    assert runner.invoke(app, ["report", str(run), "--out", str(out)]).exit_code == 0
    report = json.loads(out.with_suffix(".json").read_text())
    for key in ("f1_macro", "f1_macro_ci", "roc_auc_ci", "accuracy_ci", "confusion_matrix"):
        assert report["metrics"][key] == payload["metrics"][key]
    assert report["vs_baseline"] == payload["vs_baseline"] and report["operating_point"] == payload["operating_point"]

    # the same test rows scored afresh from the file: eval --json and report --data agree with each other
    ev = runner.invoke(app, ["eval", str(run), "--data", str(data), "--split-col", "split", "--json", *BOOT])
    assert ev.exit_code == 0, ev.output
    ev = json.loads(ev.stdout)
    rep = runner.invoke(app, ["report", str(run / "checkpoint"), "--data", str(data), "--split-col", "split",
                              *BOOT, "--out", str(tmp_path / "d.html")])
    assert rep.exit_code == 0, rep.output
    rep = json.loads((tmp_path / "d.json").read_text())
    for key in ("f1_macro", "f1_macro_ci", "roc_auc", "roc_auc_ci", "pr_auc_ci", "confusion_matrix"):
        assert rep["metrics"][key] == ev[key]
        want = payload["metrics"][key]  # and match training's own test figures
        assert ev[key] == (want if key == "confusion_matrix" else pytest.approx(want, abs=1e-6))
    assert rep["operating_point"] == ev["operating_point"] and rep["calibration"]["ece"] == ev["calibration"]["ece"]


def test_predict_applies_the_stored_temperature_and_threshold(trained, tmp_path):
    from clinitui.engine.evaluate.calibration import apply_temperature
    from clinitui.engine.inference.apply import probabilities

    run, data, _ = trained
    ckpt = tmp_path / "ckpt"
    shutil.copytree(run / "checkpoint", ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    texts = [r["text"] for r in make_rows(40, seed=21)]
    raw, info = probabilities(ckpt, texts)
    config.update(temperature=2.5, operating_point={"rule": "0.9", "threshold": 0.9})
    (ckpt / "config.json").write_text(json.dumps(config))
    write_csv(tmp_path / "p.csv", [{"text": t} for t in texts])
    out = CliRunner().invoke(app, ["predict", str(ckpt), "--data", str(tmp_path / "p.csv")])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    pos = info.positive_index
    scaled = apply_temperature(raw, 2.5)
    for row, p in zip(rows, scaled):
        assert row[f"p_{info.label_names[pos]}"] == pytest.approx(p[pos], abs=1e-5)
        assert row["predicted"] == info.label_names[pos if p[pos] >= 0.9 else 1 - pos]


def test_eval_compare_threshold_rule_subgroups_and_error_ids(trained):
    run, data, payload = trained
    result = CliRunner().invoke(app, ["eval", str(run), "--data", str(data), "--split-col", "split", "--json",
                                      *BOOT, "--compare", str(run), "--threshold-rule", "sensitivity:0.9",
                                      "--group-col", "ward", "--id-col", "pid"])
    assert result.exit_code == 0, result.output
    ev = json.loads(result.stdout)
    # A: threshold re-chosen on the dev rows; B: the same checkpoint with its stored threshold
    delta = ev["vs_compare"]["delta_f1_macro"]
    assert delta == pytest.approx(ev["f1_macro"] - payload["metrics"]["f1_macro"], abs=1e-6)
    assert 0 <= ev["vs_compare"]["mcnemar_p"] <= 1 and "McNemar p" in ev["vs_compare"]["verdict"]
    assert "dev rows" in ev["operating_point"]["rule"]
    assert {g["group"] for g in ev["subgroups"]} == {"picu", "nicu"}
    small = {g["group"]: g["too_small"] for g in ev["subgroups"]}
    assert small["nicu"] and all(g["too_small"] == (g["n"] < 30 or g["events"] < 5) for g in ev["subgroups"])
    assert sum(g["n"] for g in ev["subgroups"]) == ev["n"]
    ids = [e["id"] for kind in ev["errors"].values() for e in kind]
    assert all(i.startswith("PAT") for i in ids)
    assert CANARY.lower() not in result.stdout.lower()
    text = CliRunner().invoke(app, ["eval", str(run), "--data", str(data), "--split-col", "split", *BOOT])
    assert text.exit_code == 0 and "[" in text.stdout and "operating point" in text.stderr


def test_report_without_its_extra_is_one_line_exit_2(trained, tmp_path, monkeypatch):
    run, _, _ = trained
    monkeypatch.setitem(sys.modules, "jinja2", None)  # as if not installed
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "clinitui[report]" in result.stderr
    assert result.stderr.splitlines()[0] == f"using run {run.name} (finished)"  # then the one-line error
    assert len(result.stderr.strip().splitlines()) == 2 and not (tmp_path / "x.html").exists()


def test_bad_threshold_rule_fails_before_a_run_directory_exists(tmp_path):
    data = write_csv(tmp_path / "n.csv", make_rows(60))
    result = CliRunner().invoke(app, ["train", "--data", str(data), *TINY, "--threshold-rule", "sensitivity:2",
                                      "--run-dir", str(tmp_path / "never")])
    assert result.exit_code == 2 and "threshold rule" in result.stderr and not (tmp_path / "never").exists()


def test_report_of_a_folder_of_runs_reports_the_best_on_validation_with_a_table(trained, tmp_path):
    run, _, payload = trained
    for name in ("trial-a", "trial-b"):
        shutil.copytree(run, tmp_path / "sweep" / "trials" / name)
    metrics = json.loads((tmp_path / "sweep" / "trials" / "trial-b" / "metrics.json").read_text())
    metrics["val_metrics"]["f1_macro"] = 2.0  # the one to pick: best on validation
    (tmp_path / "sweep" / "trials" / "trial-b" / "metrics.json").write_text(json.dumps(metrics))
    result = CliRunner().invoke(app, ["report", str(tmp_path / "sweep"), "--out", str(tmp_path / "s.html"),
                                      "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["sweep"]["best"] == "trial-b" and [r["run"] for r in report["sweep"]["runs"]] == ["trial-a", "trial-b"]
    assert report["sweep"]["runs"][0]["f1_macro_ci"] == payload["metrics"]["f1_macro_ci"]
    assert "Runs in" in (tmp_path / "s.html").read_text()
