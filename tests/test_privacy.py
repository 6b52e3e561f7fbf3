"""No note text leaves the notes: a canary string must appear in no file of the run directory."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.runs import summarize
from tests.conftest import TINY, make_rows, write_csv

CANARY = "Qzxvandermeulen"  # a made-up surname, as a patient name would appear in a note


def canary_rows(n: int) -> list[dict]:
    rows = make_rows(n, seed=11)
    for i in (3, 40):  # twice: below the tokenizer's min_frequency of 3
        rows[i]["text"] += f" patient {CANARY} vu ce jour"
    return rows


def files_with_canary(root: Path) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and CANARY.lower().encode() in path.read_bytes().lower():
            hits.append(str(path.relative_to(root)))
    return hits


def test_canary_in_no_file_of_a_detached_run_nor_in_eval_or_predict_output(tmp_path):
    data = write_csv(tmp_path / "notes.csv", canary_rows(200))
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--data", str(data), "--run-dir", str(tmp_path / "run"), "--detach",
                                 "--json", *TINY, "--epochs", "2", "--set", "model.backbone_options.min_frequency=3"])
    assert result.exit_code == 0, result.output
    run = Path(json.loads(result.stdout)["run_dir"])
    deadline = time.time() + 120
    while summarize(run).status in ("running", "created") and time.time() < deadline:
        time.sleep(0.2)
    assert summarize(run).status == "finished", (run / "worker.log").read_text()
    for command in (["eval", str(run / "checkpoint"), "--data", str(data), "--json"],
                    ["predict", str(run / "checkpoint"), "--data", str(data)]):
        out = runner.invoke(app, command)
        assert out.exit_code == 0 and CANARY.lower() not in out.output.lower()
    assert (run / "worker.log").exists()
    assert files_with_canary(run) == []


def test_canary_not_in_failure_messages_or_events(tmp_path):
    rows = canary_rows(60)
    rows[10]["label"] = ""  # a row without a label: the error names the row, not its text
    data = write_csv(tmp_path / "bad.csv", rows)
    result = CliRunner().invoke(app, ["train", "--data", str(data), *TINY])
    assert result.exit_code == 2 and "row 12" in result.stderr
    assert CANARY.lower() not in result.output.lower()
    assert not (Path(os.environ["CLINITUI_RUNS_ROOT"])).exists()


def test_tfidf_vocabulary_keeps_no_term_of_one_or_two_notes(tmp_path):
    """The TF-IDF model (the default ensemble's half, --backbone tfidf) saves its vocabulary: same rule."""
    data = write_csv(tmp_path / "notes.csv", canary_rows(120))
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--backbone", "tfidf",
                                      "--run-dir", str(tmp_path / "run"), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "checkpoint").is_dir()
    assert files_with_canary(tmp_path / "run") == []

    from clinitui.engine.tfidf.model import TfidfModel

    rows = canary_rows(120)
    rows[77]["text"] += f" patient {CANARY} vu ce jour"  # a third note: now the rule lets the name in
    texts, labels = [r["text"] for r in rows], [int(r["label"]) for r in rows]
    model = TfidfModel.fit(texts[:100], labels[:100], texts[100:], labels[100:], ["0", "1"])
    model.save(tmp_path / "three")
    assert CANARY.lower().encode() in (tmp_path / "three" / "tfidf.json").read_bytes().lower()


def test_a_split_too_small_for_the_tfidf_vocabulary_is_one_line_exit_2(tmp_path):
    rows = [{"text": t, "label": lab} for t, lab in (("alpha", "0"), ("beta", "1"), ("gamma", "0"), ("delta", "1"),
                                                    ("epsilon", "0"), ("zeta", "1"), ("eta", "0"), ("theta", "1"),
                                                    ("iota", "0"), ("kappa", "1"))]
    data = write_csv(tmp_path / "tiny.csv", rows)
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--backbone", "tfidf",
                                      "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "the TF-IDF model (--backbone tfidf) cannot be fitted" in result.output and "Traceback" not in result.output
    assert "3 or more of the 6 training notes" in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "run").exists()  # refused before training: no failed run left behind
