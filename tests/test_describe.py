"""Every view describes the model that ships: what it predicts, and val/test figures of one predictor per row.

Real run directories (tests/fixtures/pre_reshape/: a network blended with its TF-IDF model, the
TF-IDF model alone, a multi-label blend) read through every view: ``runs list``, ``runs show``,
``eval --json``, the HTML report (with and without ``--data``) and the TUI's metrics rows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.describe import describe, describe_checkpoint, describe_run
from clinitui.kinds import Predicts

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "pre_reshape"
runner = CliRunner()


@pytest.fixture
def root(tmp_path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "fx")
    return tmp_path / "fx"


def _metrics(root: Path, name: str) -> dict:
    return json.loads((root / "runs" / name / "metrics.json").read_text())


def test_a_blend_is_described_as_a_blend_with_each_part_apart(root):
    d = describe_run(root / "runs" / "blend")
    m = _metrics(root, "blend")
    assert d.predicts is Predicts.BLEND and d.weight == m["ensemble"]["weight"]
    assert d.sentence().startswith("a blend: 5% network (scratch-transformer + grn) + 95% TF-IDF model")
    assert [label for label, _ in d.rows()] == ["shipped model", "network alone", "TF-IDF alone"]
    assert (d.shipped.val, d.shipped.test) == (m["val_metrics"]["f1_macro"], m["metrics"]["f1_macro"])
    assert (d.parts["network"].val, d.parts["network"].test) == (m["network_val"]["f1_macro"], m["network"]["f1_macro"])
    assert (d.parts["tfidf"].val, d.parts["tfidf"].test) == (m["baseline"]["val_f1_macro"], m["baseline"]["f1_macro"])
    # the same checkpoint folder, described on its own, says the same
    assert describe_checkpoint(root / "runs" / "blend" / "checkpoint") == d


def test_kinds_of_checkpoint_and_headline_metric(root):
    tfidf = describe_run(root / "runs" / "tfidf")
    assert tfidf.predicts is Predicts.TFIDF and [k for k in tfidf.parts] == ["shipped"] and tfidf.adapter is None
    multi = describe_run(root / "runs" / "multi")
    m = _metrics(root, "multi")
    assert multi.metric == "f1_micro" and multi.shipped.test == m["metrics"]["f1_micro"]
    assert multi.parts["tfidf"].val == m["baseline"]["val_f1_micro"]
    network = describe({"model": {"backbone": "scratch-transformer", "adapter": "grn"}},
                       {"metrics": {"f1_macro": 0.7}, "val_metrics": {"f1_macro": 0.6},
                        "baseline": {"f1_macro": 0.65, "val_f1_macro": 0.62}})
    assert network.predicts is Predicts.NETWORK and [k for k in network.parts] == ["shipped", "tfidf"]
    assert network.sentence() == "the network alone (scratch-transformer + grn)"
    assert describe_checkpoint(root / "nowhere") is None


def test_runs_list_and_show_put_one_predictor_on_a_row(root):
    m = _metrics(root, "blend")
    out = runner.invoke(app, ["runs", "list", "--runs-root", str(root / "runs"), "--json"])
    row = next(r for r in json.loads(out.stdout) if r["name"] == "blend")
    assert row["predicts"] == "blend" and row["blend_weight"] == m["ensemble"]["weight"]
    assert (row["best_val_f1"], row["test_f1"]) == (m["val_metrics"]["f1_macro"], m["metrics"]["f1_macro"])
    assert row["figures"]["network"]["val"] == m["network_val"]["f1_macro"]
    table = runner.invoke(app, ["runs", "list", "--runs-root", str(root / "runs")]).stdout
    assert "blend 0.05" in next(line for line in table.splitlines() if line.startswith("blend"))

    shown = runner.invoke(app, ["runs", "show", "blend", "--runs-root", str(root / "runs")])
    assert shown.exit_code == 0, shown.output
    assert "predicts     a blend: 5% network" in shown.stdout
    lines = {line.split("  ")[1].strip(): line for line in shown.stdout.splitlines() if line.startswith("  ")
             and len(line.split("  ")) > 2}
    assert f"{m['network_val']['f1_macro']:.4f}" in lines["network alone"]
    assert f"{m['baseline']['f1_macro']:.4f}" in lines["TF-IDF alone"]


def test_eval_json_says_what_predicts_and_compares_with_the_member(root):
    data = str(root / "notes.csv")
    blend = json.loads(runner.invoke(app, ["eval", str(root / "runs" / "blend"), "--data", data, "--json",
                                           "--bootstrap", "50"]).stdout)
    assert blend["model"]["predicts"] == "blend" and blend["model"]["summary"].startswith("a blend")
    assert {"delta_f1_macro", "mcnemar_p", "verdict"} <= set(blend["vs_baseline"])
    assert "own TF-IDF member" in blend["vs_baseline_note"]
    tfidf = json.loads(runner.invoke(app, ["eval", str(root / "runs" / "tfidf"), "--data", data, "--json",
                                           "--bootstrap", "0"]).stdout)
    assert tfidf["vs_baseline"] is None and "TF-IDF model itself" in tfidf["vs_baseline_note"]
    people = runner.invoke(app, ["eval", str(root / "runs" / "blend"), "--data", data, "--bootstrap", "0"])
    assert people.exit_code == 0 and "model: a blend: 5% network" in people.stdout
    assert "baseline: the checkpoint's own TF-IDF member alone" in people.stderr


def test_report_says_blend_and_which_data_each_section_is_about(root, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "own.html"
    result = runner.invoke(app, ["report", str(root / "runs" / "blend"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "The model is a blend: 5% network" in html
    assert "Training curves (of the network alone, before it was blended)" in html
    assert "network alone</td>" in html and "TF-IDF alone</td>" in html
    assert "the blend&#39;s own TF-IDF member alone" in html  # what the comparison compares with
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["description"]["predicts"] == "blend"
    assert dict((r["field"], r["value"]) for r in card["model_card"])["Evaluation"].startswith(
        "the training run's held-out test split")

    other = tmp_path / "other.html"
    result = runner.invoke(app, ["report", str(root / "runs" / "blend"), "--data", str(root / "notes.csv"),
                                 "--out", str(other)])
    assert result.exit_code == 0, result.output
    html = other.read_text()
    assert "Data and splits of the training run (not the scored file)" in html
    card = json.loads(other.with_suffix(".json").read_text())
    evaluation = dict((r["field"], r["value"]) for r in card["model_card"])["Evaluation"]
    assert evaluation.startswith("the file notes.csv") and "not the training run's test split" in evaluation
    assert card["vs_baseline"]["n"] == card["scored"]["n"]  # compared on the scored file's notes


def test_tui_metrics_rows_name_their_predictor():
    from clinitui.tui.widgets.metrics_table import blend_rows

    evals = [{"split": "val", "epoch": 1, "f1_macro": 0.40}]
    ensemble = {"weight": 0.15, "val_f1_macro": 0.74, "tfidf_val_f1_macro": 0.73, "test_f1_macro": 0.75}
    rows = blend_rows(evals, {"split": "test", "epoch": 1, "f1_macro": 0.75}, ensemble)
    assert [(r["split"], r["f1_macro"]) for r in rows] == [
        ("val · network", 0.40), ("val · blend 0.15", 0.74), ("val · TF-IDF", 0.73), ("test · blend 0.15", 0.75)]
