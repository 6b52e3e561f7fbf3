"""Issue 11 (accuracy): the TF-IDF model as a checkpoint, the ensemble blend, seed groups.

One tiny seed group (2 seeds, each network blended with TF-IDF) is trained once per module and
checked from several sides; the TF-IDF checkpoint tests need no network at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.events import read_events
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()


def invoke_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def texts_of(path: Path) -> list[str]:
    import csv

    return [r["text"] for r in csv.DictReader(open(path, encoding="utf-8"))]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_csv(tmp_path_factory.mktemp("acc") / "notes.csv", make_rows(240, n_classes=3))


@pytest.fixture(scope="module")
def tfidf_run(data, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("tfidf")
    return invoke_json("train", "--data", str(data), "--backbone", "tfidf", "--quiet", "--run-dir", str(root / "run"))


@pytest.fixture(scope="module")
def seed_group(data, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("seeds")
    return invoke_json("train", "--data", str(data), "--epochs", "2", "--seeds", "2", "--ensemble", "tfidf",
                       "--quiet", "--run-dir", str(root / "group"), *TINY, "--set", "model.ensemble=tfidf")


def test_tfidf_backbone_writes_a_normal_run_that_eval_and_predict_use(tfidf_run, data, tmp_path):
    run = Path(tfidf_run["run_dir"])
    for name in ("run.toml", "events.jsonl", "metrics.json", "checkpoint/config.json",
                 "checkpoint/model.safetensors", "checkpoint/tfidf.json"):
        assert (run / name).is_file(), name
    types = [e["type"] for e in read_events(run)]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert {"eval", "checkpoint", "baseline"} <= set(types)
    assert tfidf_run["metrics"]["f1_macro"] > 0.9  # keywords: an easy task for n-grams
    assert tfidf_run["baseline"]["f1_macro"] == tfidf_run["metrics"]["f1_macro"]
    assert not any(p.suffix in (".pkl", ".pickle", ".joblib") for p in run.rglob("*"))
    scored = invoke_json("eval", tfidf_run["checkpoint"], "--data", str(data))
    assert scored["n"] == 240 and scored["f1_macro"] > 0.9
    result = runner.invoke(app, ["predict", tfidf_run["checkpoint"], "--data", str(data)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 240 and set(rows[0]) == {"row", "predicted", "p_0", "p_1", "p_2", "threshold"}


def test_tfidf_checkpoint_round_trips_exactly(data, tmp_path):
    from clinitui.engine.tfidf.model import TfidfModel

    rows = make_rows(240, n_classes=3)
    texts, labels = [r["text"] for r in rows], [int(r["label"]) for r in rows]
    model = TfidfModel.fit(texts[:160], labels[:160], texts[160:200], labels[160:200], ["0", "1", "2"], seed=0)
    sha = model.save(tmp_path / "m")
    loaded = TfidfModel.load(tmp_path / "m", sha)
    assert loaded.c == model.c and loaded.label_names == model.label_names
    np.testing.assert_array_equal(loaded.predict_proba(texts[200:]), model.predict_proba(texts[200:]))
    assert np.allclose(model.predict_proba(texts).sum(1), 1.0)
    # the fused predict path (both blocks from one pass, norms applied to the logits) = the stacked features
    # the classifier was fitted on, times its coefficients
    odd = texts[200:] + ["", "  Œdème\tDU  membre  ", "x y", "FC 120/min, SpO2 94 %"]
    stacked = np.asarray(model.features(odd) @ model.coef.T, dtype=np.float64) + model.intercept
    np.testing.assert_allclose(model.logits(odd), stacked, rtol=0, atol=1e-5)


def test_fast_tfidf_features_equal_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from clinitui.data.demo import generate_notes
    from clinitui.engine.tfidf.model import CHAR, MIN_NOTES, WORD
    from clinitui.engine.tfidf.features import char_wb_tfidf, fit_vectorizer, word_tfidf

    texts, _ = generate_notes(300, seed=3)
    texts += ["a", "", "  Œdème\tDU  membre  ", "x y", "FC 120/min, SpO2 94 %"]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=MIN_NOTES).fit(texts[:200])
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=MIN_NOTES).fit(texts[:200])
    for params, reference in ((CHAR, vec), (WORD, words)):  # our fit: scikit-learn's vocabulary and idf
        ours = fit_vectorizer(params, texts[:200])
        assert ours.vocabulary == reference.vocabulary_
        np.testing.assert_allclose(ours.idf_, reference.idf_, rtol=1e-12)
    for fast, vectorizer in ((char_wb_tfidf, vec), (word_tfidf, words)):
        ours, theirs = fast(vectorizer, texts), vectorizer.transform(texts)
        assert ours.shape == theirs.shape and ours.nnz == theirs.nnz > 0
        np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("victim", ["model.safetensors", "tfidf.json"])
def test_tampered_tfidf_checkpoint_is_refused(tfidf_run, data, tmp_path, victim):
    import shutil

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tfidf_run["checkpoint"], ckpt)
    blob = bytearray((ckpt / victim).read_bytes())
    blob[-3] ^= 0x01
    (ckpt / victim).write_bytes(bytes(blob))
    result = runner.invoke(app, ["eval", str(ckpt), "--data", str(data)])
    assert result.exit_code == 2
    assert "checksum mismatch" in result.output and "Traceback" not in result.output


def test_ensemble_probabilities_are_the_weighted_blend_of_its_parts(seed_group, data):
    from clinitui.engine.checkpoint.folder import read_checkpoint_info
    from clinitui.engine.inference.predictor import checkpoint_probabilities, network_probabilities
    from clinitui.engine.tfidf.load import load_tfidf

    ckpt = Path(seed_group["runs"][0]) / "checkpoint"
    info = read_checkpoint_info(ckpt)
    spec = info.raw["ensemble"]
    assert spec["name"] == "tfidf" and spec["path"] == "tfidf" and 0.0 <= spec["weight"] <= 1.0
    texts = texts_of(data)
    network = network_probabilities(info, texts, 64, "cpu")
    tfidf = load_tfidf(ckpt / "tfidf", spec["sha256"]).predict_proba(texts)
    blended, _ = checkpoint_probabilities(ckpt, texts, device="cpu")
    np.testing.assert_allclose(blended, spec["weight"] * network + (1 - spec["weight"]) * tfidf, rtol=0, atol=1e-6)


def test_ensemble_run_reports_all_three_and_is_best_on_val(seed_group):
    payload = json.loads((Path(seed_group["runs"][0]) / "metrics.json").read_text())
    for key in ("metrics", "network", "baseline", "val_metrics", "network_val"):
        assert 0.0 <= payload[key]["f1_macro"] <= 1.0, key
    assert payload["metrics"]["n"] == payload["network"]["n"] == payload["baseline"]["n"]
    event = next(e for e in read_events(Path(seed_group["runs"][0])) if e["type"] == "ensemble")
    assert event["val_f1_macro"] >= max(event["network_val_f1_macro"], event["tfidf_val_f1_macro"])
    assert event["weight"] == payload["ensemble"]["weight"] == payload["blend"]["weight"]
    blend = payload["blend"]  # kept only when its validation gain over the better part is real (issue 24)
    assert event["kept"] == blend["kept"] and event["reason"] == blend["reason"]
    if blend["kept"]:
        assert blend["weight"] == blend["candidate_weight"] and blend["val_gain_ci"][0] > 0
    else:
        assert blend["weight"] in (0.0, 1.0) and blend["reason"].startswith("blend not kept")
    assert payload["baseline_val"]["n"] == payload["val_metrics"]["n"]
    assert "positive_label" not in payload  # three classes: no positive class
    assert payload["metrics"]["log_loss"] > 0 and payload["baseline"]["log_loss"] > 0


def test_seeds_make_two_runs_and_one_averaged_checkpoint(seed_group, data):
    from clinitui.engine.inference.predictor import checkpoint_probabilities

    group = Path(seed_group["run_dir"])
    assert seed_group["seeds"] == [42, 43] and len(seed_group["runs"]) == 2
    for run in seed_group["runs"]:
        assert (Path(run) / "run.toml").is_file() and (Path(run) / "checkpoint" / "config.json").is_file()
    assert json.loads((group / "seeds.json").read_text()) == seed_group
    f1 = seed_group["summary"]["f1_macro"]
    assert len(f1["values"]) == 2 and f1["mean"] == pytest.approx(np.mean(f1["values"]))
    assert f1["sd"] == pytest.approx(np.std(f1["values"], ddof=1))
    texts = texts_of(data)
    averaged, _ = checkpoint_probabilities(seed_group["checkpoint"], texts, device="cpu")
    members = [checkpoint_probabilities(Path(r) / "checkpoint", texts, device="cpu")[0] for r in seed_group["runs"]]
    np.testing.assert_allclose(averaged, np.mean(members, axis=0), atol=1e-6)
    scored = invoke_json("eval", seed_group["checkpoint"], "--data", str(data))
    assert scored["n"] == 240 and scored["f1_macro"] > 0.5


def test_unknown_ensemble_is_one_line_and_exit_2(data, tmp_path):
    result = runner.invoke(app, ["train", "--data", str(data), "--ensemble", "tfidx", "--runs-root", str(tmp_path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown ensemble 'tfidx'" in lines[0] and "tfidf" in lines[0]
    assert not any(tmp_path.iterdir())  # refused before any run directory exists


def test_choose_weight_is_never_worse_than_either_part_on_val():
    from sklearn.metrics import f1_score

    from clinitui.engine.tfidf.blend import choose_weight

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    a, b = rng.dirichlet(np.ones(3), 200), rng.dirichlet(np.ones(3), 200)
    a[np.arange(100), y[:100]] += 1.0  # each part knows half of the notes
    b[np.arange(100, 200), y[100:]] += 1.0
    w, f1 = choose_weight(a, b, y)
    best_part = max(f1_score(y, p.argmax(1), average="macro") for p in (a, b))
    assert f1 >= best_part and 0.0 < w < 1.0  # here the blend beats both
    w_tie, _ = choose_weight(a, a, y)  # identical parts: every weight ties -> the even blend
    assert w_tie == 0.5


def test_report_on_a_seed_group_reads_the_group_and_its_averaged_checkpoint(seed_group, data, tmp_path):
    group = Path(seed_group["run_dir"])
    result = runner.invoke(app, ["report", str(group), "--out", str(tmp_path / "r.html"), "--data", str(data),
                                 "--bootstrap", "50"])
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["scored"]["n"] == 240 and payload["description"]["predicts"] == "seed-average"
    assert len(payload["model"]["weights_sha256"]) == 64
