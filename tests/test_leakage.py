"""Leakage between splits (data/leakage.py): counts, --dedupe, and the warning a new user sees."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.data.leakage import find_leaks
from tests.conftest import TINY, make_rows, write_csv


def test_exact_after_normalisation_and_near_by_cosine():
    train = ["Enfant admis pour bronchiolite, SpO2 92%", "fracture du radius gauche plâtrée", "otite moyenne aiguë"]
    val = ["enfant   admis pour BRONCHIOLITE, spo2 92%",  # exact after case + whitespace folding
           "fracture du radius gauche plâtrée hier",  # near: one word added
           "toux fébrile depuis trois jours"]
    test = ["otite moyenne aiguë", "enfant admis pour bronchiolite, SpO2 92%", "douleur abdominale"]
    leaks = find_leaks(train, val, test, threshold=0.8)
    assert leaks["by_split"] == {"val": {"exact": 1, "near": 1}, "test": {"exact": 2, "near": 0}}
    assert (leaks["exact"], leaks["near"]) == (3, 1)
    assert find_leaks(train, val, test)["near"] == 0  # 0.95 by default: one extra word is not near enough here
    assert find_leaks(train, ["x y z"], ["a b c"])["exact"] == 0


def test_a_file_whose_rows_all_appear_twice_warns_and_dedupe_removes_them(tmp_path):
    rows = make_rows(120, seed=4)
    data = write_csv(tmp_path / "twice.csv", rows + [dict(r) for r in rows])
    runner = CliRunner()
    common = [*TINY, "--epochs", "1", "--set", "train.max_steps=2", "--bootstrap", "50"]
    plain = runner.invoke(app, ["train", "--data", str(data), *common, "--run-dir", str(tmp_path / "a")])
    assert plain.exit_code == 0, plain.output
    leak = json.loads((tmp_path / "a" / "metrics.json").read_text())["leakage"]
    assert leak["exact"] > 10 and "leakage:" in plain.stderr and "--dedupe" in plain.stderr
    events = (tmp_path / "a" / "events.jsonl").read_text()
    assert '"type":"warning"' in events and "leakage" in events
    # every held-out note has its twin in train: nothing would be left to test on
    emptied = runner.invoke(app, ["train", "--data", str(data), *common, "--dedupe"])
    assert emptied.exit_code == 2 and "--dedupe leaves no" in emptied.stderr
    assert len(emptied.stderr.strip().splitlines()) == 1

    some = write_csv(tmp_path / "some.csv", make_rows(300, seed=5) + make_rows(300, seed=5)[:60])
    deduped = runner.invoke(app, ["train", "--data", str(some), *common, "--dedupe", "--json", "--run-dir",
                                  str(tmp_path / "b")])
    assert deduped.exit_code == 0, deduped.output
    payload = json.loads(deduped.stdout)
    found, removed = payload["leakage"], payload["leakage"]["removed"]
    assert removed["val"] + removed["test"] == found["exact"] + found["near"] > 0
    assert payload["metrics"]["n"] == sum(payload["counts"]["test"].values())
