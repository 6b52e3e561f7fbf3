"""Active learning (clinitui/labeling/, docs/labeling.md): strategies on hand-computed cases, the
journal (append, undo, reopen, digest, lock, SIGKILL while appending), ``suggest``, ``label export``
and ``label status`` through the CLI, and bad input (one line, exit 2, nothing lost)."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.labeling import strategies
from clinitui.labeling.journal import Journal, read_journal, replay
from clinitui.labeling.pool import read_pool
from tests.conftest import make_rows, write_csv

FIXTURE = Path(__file__).parent / "fixtures" / "pre_reshape"
runner = CliRunner()


def pool_csv(path: Path, n: int = 60, seed: int = 0) -> Path:
    rows = [{"id": f"n{i:03d}", **r} for i, r in enumerate(make_rows(n, seed))]
    return write_csv(path, rows)


def cli(args: list[str]):
    return runner.invoke(app, [str(a) for a in args])


# -- strategies ------------------------------------------------------------------------------------

PROBS = np.array([[0.5, 0.3, 0.2], [0.4, 0.4, 0.2], [0.9, 0.05, 0.05], [0.34, 0.33, 0.33]])


def test_uncertainty_scores_match_hand_computed_values():
    assert strategies.uncertainty(PROBS, "least-confidence") == pytest.approx([0.5, 0.6, 0.1, 0.66])
    assert strategies.uncertainty(PROBS, "breaking-ties") == pytest.approx([0.8, 1.0, 0.15, 0.99])
    ent = [-(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2)),
           -(2 * 0.4 * math.log(0.4) + 0.2 * math.log(0.2)),
           -(0.9 * math.log(0.9) + 2 * 0.05 * math.log(0.05)),
           -(0.34 * math.log(0.34) + 2 * 0.33 * math.log(0.33))]
    assert strategies.uncertainty(PROBS, "entropy") == pytest.approx(ent)
    # the orders differ: breaking-ties puts the tie (row 1) first, entropy and least-confidence row 3
    assert list(strategies.choose("breaking-ties", 4, np.arange(4), probs=PROBS)[0]) == [1, 3, 0, 2]
    assert list(strategies.choose("entropy", 4, np.arange(4), probs=PROBS)[0]) == [3, 1, 0, 2]
    assert list(strategies.choose("least-confidence", 2, np.array([0, 1, 2]), probs=PROBS)[0]) == [1, 0]


def test_multilabel_uncertainty_is_the_mean_of_the_binary_scores():
    probs = np.array([[0.5, 0.9], [0.8, 0.8]])
    assert strategies.uncertainty(probs, "least-confidence", multilabel=True) == pytest.approx([0.3, 0.2])
    assert strategies.uncertainty(probs, "breaking-ties", multilabel=True) == pytest.approx([0.6, 0.4])


def test_coreset_picks_the_farthest_point_each_time():
    v = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.1, 0.0], [5.0, 5.0]])
    rows, scores = strategies.coreset(v, np.array([0]), np.array([1, 2, 3, 4]), 3)
    # from {0}: (5,5) is √50 away; then (0,3) (3 from 0, √29 from (5,5)); then (1,0)
    assert list(rows) == [4, 2, 1]
    assert scores == pytest.approx([math.sqrt(50), 3.0, 1.0])


def test_kmeans_cold_start_takes_one_note_per_cluster_and_random_is_seeded():
    v = np.array([[0, 0], [0, 0.1], [0.1, 0], [10, 10], [10, 10.1], [20, 0]], dtype=float)
    rows, scores = strategies.kmeans_start(v, np.arange(6), 3)
    assert sorted({int(r) // 3 if r < 5 else 2 for r in rows}) == [0, 1, 2]  # one from each group
    assert scores == pytest.approx([0.5, 2 / 6, 1 / 6])  # largest cluster first
    a, _ = strategies.random_pick(np.arange(10), 4, seed=1)
    b, _ = strategies.random_pick(np.arange(10), 4, seed=1)
    assert list(a) == list(b) and len(set(a.tolist())) == 4


# -- journal ---------------------------------------------------------------------------------------

def test_journal_appends_undoes_and_reopens_where_it_stopped(tmp_path):
    pool = read_pool(pool_csv(tmp_path / "pool.csv"))
    path = tmp_path / "labels.jsonl"
    with Journal(path, pool, "ana", ["0", "1"]) as j:
        j.label("n000", "1", 0.9)
        j.label("n001", "0")
        j.skip("n002")
        assert j.undo()["kind"] == "skip"
        assert j.undo()["id"] == "n001"
        j.label("n003", "0")
    before = path.read_text()
    header, records = read_journal(path)
    assert header["pool_digest"] == pool.digest and header["labels"] == ["0", "1"]
    assert [r["kind"] for r in records] == ["label", "label", "skip", "undo", "undo", "label"]
    assert "text" not in before and pool.texts[0] not in before  # ids only, never note text
    with Journal(path, pool, "ana") as j:  # reopened: the same standing labels
        assert j.state.labels["ana"] == {"n000": "1", "n003": "0"}
        assert j.state.handled("ana") == {"n000", "n003"}
    assert path.read_text() == before  # opening rewrites nothing


def test_journal_refuses_another_pool_a_foreign_label_and_a_second_session(tmp_path):
    from clinitui.errors import DataError, RunBusyError

    pool = read_pool(pool_csv(tmp_path / "pool.csv"))
    other = read_pool(pool_csv(tmp_path / "other.csv", n=61))
    path = tmp_path / "labels.jsonl"
    j = Journal(path, pool, "ana", ["0", "1"])
    j.label("n000", "1")
    with pytest.raises(DataError, match="not in the label set"):
        j.label("n001", "2")
    with pytest.raises(RunBusyError, match="another labelling session"):
        Journal(path, pool, "bob")
    j.close()
    with pytest.raises(DataError, match="belongs to another pool"):
        Journal(path, other, "ana")
    assert len(read_journal(path)[1]) == 1


def test_a_torn_last_line_is_skipped_and_closed_before_the_next_append(tmp_path):
    pool = read_pool(pool_csv(tmp_path / "pool.csv"))
    path = tmp_path / "labels.jsonl"
    with Journal(path, pool, "ana", ["0", "1"]) as j:
        j.label("n000", "1")
    with open(path, "ab") as fh:
        fh.write(b'{"kind": "label", "id": "n00')  # what a kill in the middle of a write leaves
    with Journal(path, pool, "ana") as j:
        assert j.state.labels["ana"] == {"n000": "1"}
        j.label("n001", "0")
    _, records = read_journal(path)
    assert [r["id"] for r in records] == ["n000", "n001"]


WRITER = """
import sys, time
from clinitui.labeling.pool import read_pool
from clinitui.labeling.journal import Journal
pool = read_pool(sys.argv[1])
j = Journal(sys.argv[2], pool, "killed", ["0", "1"])
i = 0
while True:
    j.label(pool.ids[i % len(pool.ids)], str(i % 2))
    i += 1
    if i == 20:
        print("ready", flush=True)
"""


def test_sigkill_while_appending_loses_at_most_the_label_being_written(tmp_path):
    pool_path = pool_csv(tmp_path / "pool.csv", n=300)
    path = tmp_path / "labels.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(pool_path), str(path)], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    size_before = path.stat().st_size
    lines_before = path.read_bytes().count(b"\n") - 1  # complete label lines seen before the kill
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    raw = path.read_bytes()
    complete = raw.count(b"\n") - 1
    assert len(raw) >= size_before and complete >= lines_before
    pool = read_pool(pool_path)
    with Journal(path, pool, "after") as j:  # the lock died with the process: reopening works
        recovered = len([r for r in j.records if r["kind"] == "label"])
        assert recovered >= complete  # every complete line read back; a torn one is at most one label
        j.label("n000", "1")
    _, records = read_journal(path)
    assert len(records) == recovered + 1 and records[-1]["annotator"] == "after"
    print(f"kill test: {lines_before} labels on disk before SIGKILL, {recovered} read back after")


# -- CLI -------------------------------------------------------------------------------------------

def test_suggest_ranks_with_a_checkpoint_and_cold_starts_without(tmp_path):
    run = tmp_path / "runs" / "tfidf"
    shutil.copytree(FIXTURE / "runs" / "tfidf", run)
    rows = [{"id": f"p{i}", "text": t} for i, t in
            enumerate(l.rsplit(",", 1)[0] for l in (FIXTURE / "notes.csv").read_text().splitlines()[1:61])]
    pool = write_csv(tmp_path / "pool.csv", rows)
    r = cli(["suggest", run, "--pool", pool, "--n", "5", "--json", "--strategy", "least-confidence"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)["suggestions"]
    assert [g["rank"] for g in got] == [1, 2, 3, 4, 5] and len({g["id"] for g in got}) == 5
    scores = [g["score"] for g in got]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 0.5 for s in scores)
    cold = cli(["suggest", "--pool", pool, "--n", "4", "--out", tmp_path / "s.csv"])
    assert cold.exit_code == 0, cold.output
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "rank,id,row,score" and len(lines) == 5


def test_suggest_leaves_out_notes_already_in_the_journal(tmp_path):
    pool_path = pool_csv(tmp_path / "pool.csv", n=30)
    pool = read_pool(pool_path)
    with Journal(tmp_path / "l.jsonl", pool, "ana", ["0", "1"]) as j:
        for i in range(25):
            j.label(pool.ids[i], "0")
    r = cli(["suggest", "--pool", pool_path, "--n", "10", "--json", "--strategy", "random",
             "--labels", tmp_path / "l.jsonl"])
    assert r.exit_code == 0, r.output
    assert sorted(g["id"] for g in json.loads(r.stdout)["suggestions"]) == pool.ids[25:]


def test_export_lists_conflicts_and_status_gives_kappa(tmp_path):
    pool_path = pool_csv(tmp_path / "pool.csv", n=40)
    pool = read_pool(pool_path)
    a, b = tmp_path / "ana.jsonl", tmp_path / "bob.jsonl"
    with Journal(a, pool, "ana", ["0", "1"]) as j:
        for i in range(20):
            j.label(pool.ids[i], str(i % 2))
    with Journal(b, pool, "bob", ["0", "1"]) as j:
        for i in range(10, 30):
            j.label(pool.ids[i], "1" if i == 10 else str(i % 2))  # n010: ana 0, bob 1
    r = cli(["label", "export", "--pool", pool_path, "--labels", a, "--labels", b, "--to", tmp_path / "t.csv"])
    assert r.exit_code == 0, r.output
    assert "conflict id n010: ana=0; bob=1" in r.output
    out = (tmp_path / "t.csv").read_text().splitlines()
    assert out[0] == "id,text,label" and len(out) == 1 + 29 and not any(l.startswith("n010,") for l in out)
    s = cli(["label", "status", "--pool", pool_path, "--labels", a, "--labels", b, "--json"])
    got = json.loads(s.stdout)
    assert got["annotators"] == {"ana": 20, "bob": 20} and got["labelled"] == 30
    (pair,) = got["agreement"]
    assert pair["notes"] == 10
    from sklearn.metrics import cohen_kappa_score

    ana = [str(i % 2) for i in range(10, 20)]
    bob = ["1"] + [str(i % 2) for i in range(11, 20)]
    assert pair["kappa"] == pytest.approx(cohen_kappa_score(ana, bob), abs=1e-4)
    assert pair["low"] <= pair["kappa"] <= pair["high"]


def test_bad_input_is_one_line_exit_2_and_nothing_lost(tmp_path):
    no_id = write_csv(tmp_path / "noid.csv", make_rows(10))
    r = cli(["suggest", "--pool", no_id])
    assert r.exit_code == 2 and "no column 'id'" in r.output and r.output.count("\n") == 1
    rows = [{"id": "x" if i in (3, 7) else f"n{i}", **row} for i, row in enumerate(make_rows(10))]
    r = cli(["suggest", "--pool", write_csv(tmp_path / "rep.csv", rows)])
    assert r.exit_code == 2 and "repeat" in r.output and "'x'" in r.output
    pool_path = pool_csv(tmp_path / "pool.csv", n=30)
    journal = tmp_path / "l.jsonl"
    with Journal(journal, read_pool(pool_path), "ana", ["0", "1"]) as j:
        j.label("n000", "1")
    before = journal.read_bytes()
    other = pool_csv(tmp_path / "other.csv", n=31)
    for args in (["label", "status", "--pool", other, "--labels", journal],
                 ["label", "--pool", other, "--labels", journal],
                 ["label", "--pool", pool_path, "--labels", journal, "--classes", "a,b"]):
        r = cli(args)
        assert r.exit_code == 2 and r.output.count("\n") == 1 and "Traceback" not in r.output, r.output
    with Journal(journal, read_pool(pool_path), "ana"):  # a session holds it: a second one is refused
        r = cli(["label", "--pool", pool_path, "--labels", journal, "--annotator", "bob"])
    assert r.exit_code == 6 and "another labelling session" in r.output and r.output.count("\n") == 1
    assert journal.read_bytes() == before


def test_the_loop_refits_the_tfidf_model_and_records_its_curve(tmp_path):
    from clinitui.labeling.session import Session

    pool_path = pool_csv(tmp_path / "pool.csv", n=80)
    gold = {r["text"]: r["label"] for r in make_rows(80, 0)}
    s = Session(read_pool(pool_path), tmp_path / "l.jsonl", "ana", classes=["0", "1"], retrain_every=30)
    try:
        assert s.strategy == "kmeans" and s.scores is None  # cold start
        due = [s.label(gold[s.text(s.current())]) for _ in range(30)]
        assert due == [False] * 29 + [True]
        fitted = s.fit()
        assert fitted is not None and fitted[0].shape == (80, 2) and fitted[2] == 30
        s.apply(fitted)
        assert s.strategy == "breaking-ties" and s.journal.curve() == [(30, round(fitted[1], 4))]
        nxt = s.current()
        margin = abs(fitted[0][nxt["row"], 1] - fitted[0][nxt["row"], 0])
        unlabelled = [r for r, i in enumerate(s.pool.ids) if i not in s.journal.state.handled("ana")]
        assert margin == pytest.approx(min(abs(fitted[0][r, 1] - fitted[0][r, 0]) for r in unlabelled))
    finally:
        s.close()
    _, records = read_journal(tmp_path / "l.jsonl")
    assert records[-1]["kind"] == "model" and records[-1]["labels"] == 30


def test_target_and_figure_of_a_simulation_result(tmp_path):
    from clinitui.labeling.simulate import BUDGETS, render, target

    flat = {b: [0.5, 0.5, 0.5] for b in BUDGETS}
    res = {"set": "toy", "curves": {"random": {b: [b / 1000] * 3 for b in BUDGETS},
                                    "breaking-ties": {b: [min(0.8, 2 * b / 1000)] * 3 for b in BUDGETS},
                                    "entropy": flat}}
    assert target(res) == {"random": 800, "breaking-ties": 400, "entropy": None}
    table = render([res], tmp_path / "c.png")
    assert "| toy | breaking-ties |" in table and "400 ✓" in table and "not within 800" in table
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_suggest_with_a_finished_blend_run_by_name(tmp_path):
    """The real command line on a real finished binary run (network + TF-IDF blend), named as a run."""
    root = tmp_path / "runs"
    shutil.copytree(FIXTURE / "runs" / "blend", root / "blend")
    rows = [{"id": f"p{i}", "text": line.rsplit(",", 1)[0]}
            for i, line in enumerate((FIXTURE / "notes.csv").read_text().splitlines()[1:])]
    pool = write_csv(tmp_path / "pool.csv", rows)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    r = subprocess.run([sys.executable, "-m", "clinitui", "suggest", "blend", "--runs-root", str(root), "--pool",
                        str(pool), "--n", "10"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("using run blend (finished)")
    lines = r.stdout.splitlines()
    assert lines[0] == "rank,id,row,score" and len(lines) == 11
    scores = [float(l.rsplit(",", 1)[1]) for l in lines[1:]]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)


def test_multilabel_journal_keeps_sets_and_export_joins_them(tmp_path):
    from clinitui.errors import DataError
    from clinitui.labeling.export import export

    pool_path = pool_csv(tmp_path / "pool.csv", n=10)
    pool = read_pool(pool_path)
    with Journal(tmp_path / "m.jsonl", pool, "ana", ["cardio", "resp", "neuro"], multilabel=True) as j:
        j.label("n000", ["neuro", "cardio", "cardio"])
        j.label("n001", [])  # no label applies
        with pytest.raises(DataError, match="not in the label set"):
            j.label("n002", ["renal"])
    result = export([tmp_path / "m.jsonl"], pool, tmp_path / "t.csv")
    assert result["written"] == 2 and result["multilabel"]
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert rows[1].startswith("n000,") and rows[1].endswith(",cardio|neuro") and rows[2].endswith(",")
    assert oct((tmp_path / "t.csv").stat().st_mode & 0o777) == "0o600"


def test_every_nth_note_is_a_random_draw_held_out_and_the_export_makes_them_dev_and_test(tmp_path):
    """Notes a strategy chose are the hard ones: a model chosen and scored on them is misjudged. Every
    Nth note served (here every 2nd) is drawn at random, marked in the journal, and the export makes
    those notes its dev and test rows."""
    from clinitui.labeling.export import MIN_HELD_OUT, export
    from clinitui.labeling.session import Session

    pool_path = pool_csv(tmp_path / "pool.csv", n=80)
    gold = {r["text"]: r["label"] for r in make_rows(80, 0)}
    journal = tmp_path / "l.jsonl"
    s = Session(read_pool(pool_path), journal, "ana", classes=["0", "1"], retrain_every=0, hold_out_every=2)
    try:
        served = []
        for _ in range(40):
            item = s.current()
            served.append(bool(item.get("held_out")))
            s.label(gold[s.text(item)])
        assert served == [(k + 1) % 2 == 0 for k in range(40)]
        assert len(s.journal.state.held_out) == 20
        # undoing a random draw serves the same note again, still held out
        last = s.journal.records[-1]
        assert last.get("held_out") is True
        s.undo()
        again = s.current()
        assert again["id"] == last["id"] and again["held_out"]
        s.label(gold[s.text(again)])
        texts, labels, held = s.training_rows()
        assert held.sum() == 20 and len(texts) == 40
    finally:
        s.close()
    _, records = read_journal(journal)
    assert sum(1 for r in records if r.get("held_out")) == 21  # the relabelled draw counted twice, undone once
    out = export([journal], read_pool(pool_path), tmp_path / "train.csv")
    assert out["split_col"] == "split" and out["held_out"] == 20 == MIN_HELD_OUT
    with open(tmp_path / "train.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    counts = {name: sum(r["split"] == name for r in rows) for name in ("train", "dev", "test")}
    assert counts == {"train": 20, "dev": 10, "test": 10}
    assert {r["id"] for r in rows if r["split"] != "train"} == set(replay(records).held_out)


def test_a_journal_with_few_random_draws_exports_without_a_split_column(tmp_path):
    from clinitui.labeling.export import export
    from clinitui.labeling.session import Session

    pool_path = pool_csv(tmp_path / "pool.csv", n=30)
    gold = {r["text"]: r["label"] for r in make_rows(30, 0)}
    s = Session(read_pool(pool_path), tmp_path / "l.jsonl", "ana", classes=["0", "1"], retrain_every=0)
    try:
        for _ in range(10):
            s.label(gold[s.text(s.current())])
    finally:
        s.close()
    out = export([tmp_path / "l.jsonl"], read_pool(pool_path), tmp_path / "train.csv")
    assert out["held_out"] == 2 and out["split_col"] is None
    assert (tmp_path / "train.csv").read_text(encoding="utf-8").splitlines()[0] == "id,text,label"
