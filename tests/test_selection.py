"""Issue 24: the positive class and why, like-for-like operating points, and choices that do not chase noise."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.data.dataset import WHY_MINORITY, WHY_NAME, WHY_SET, WHY_TIE, choose_positive
from clinitui.errors import DataError
from tests.conftest import make_rows, write_csv

runner = CliRunner()


def test_positive_class_is_the_minority_unless_a_label_or_the_user_says_otherwise():
    assert choose_positive(["ADE", "not_ADE"], None, {"ADE": 20, "not_ADE": 80}) == (0, WHY_MINORITY)
    assert choose_positive(["no", "yes"], None, {"no": 10, "yes": 90}) == (1, WHY_NAME)  # the name wins
    assert choose_positive(["ADE", "not_ADE"], "not_ADE", {"ADE": 20, "not_ADE": 80}) == (1, WHY_SET)
    assert choose_positive(["a", "b"], None, {"a": 5, "b": 5}) == (1, WHY_TIE)
    assert choose_positive(["a", "b", "c"], None, {"a": 1, "b": 2, "c": 3}) is None
    with pytest.raises(DataError, match="not a class"):
        choose_positive(["ADE", "not_ADE"], "ade", {})


def test_paired_gain_is_zero_for_identical_predictions_and_beyond_noise_for_a_clear_gain():
    from clinitui.engine.evaluate.stats import paired_gain, real_gain

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    noisy = np.where(rng.random(600) < 0.4, rng.integers(0, 3, 600), y)
    assert paired_gain(y, noisy, noisy, 3) == (0.0, 0.0)
    gain, se = paired_gain(y, y, noisy, 3)
    assert gain > 0.2 and 0 < se < gain / 5
    one_note = noisy.copy()  # three more notes right, two more wrong: a net gain of one note
    wrong, right = np.flatnonzero(noisy != y), np.flatnonzero(noisy == y)
    one_note[wrong[:3]] = y[wrong[:3]]
    one_note[right[:2]] = (y[right[:2]] + 1) % 3
    gain, se = paired_gain(y, one_note, noisy, 3)
    assert 0 < gain <= se and not real_gain(gain, se)  # one note is inside the noise
    assert real_gain(*paired_gain(y, y, noisy, 3))


def test_macro_f1_rule_moves_off_argmax_only_when_the_gain_is_real():
    from clinitui.engine.evaluate.operating_point import choose_threshold

    rng = np.random.default_rng(1)
    y = (rng.random(800) < 0.3).astype(int)
    shifted = np.clip(0.25 + 0.2 * y + rng.normal(0, 0.05, 800), 0.01, 0.99)  # every positive below 0.5
    t = choose_threshold(y, shifted, 1, "macro-f1")
    assert 0.3 < t < 0.5
    stayed = 0
    for _ in range(10):  # symmetric scores: 0.5 is right, and the best threshold on a sample is luck
        even = (rng.random(800) < 0.5).astype(int)
        symmetric = np.clip(0.5 + 0.15 * (2 * even - 1) + rng.normal(0, 0.2, 800), 0.01, 0.99)
        stayed += choose_threshold(even, symmetric, 1, "macro-f1") == 0.5
    assert stayed >= 9  # the plain maximum would move every time
    assert choose_threshold(y, shifted, 1, "argmax") == 0.5
    assert choose_threshold(y, shifted, 1, "auto") == 0.5  # the binary default: argmax (docs/accuracy.md)


def test_blend_is_kept_only_when_it_beats_its_better_part_beyond_noise():
    from clinitui.engine.tfidf.blend import keep_blend

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    net = np.eye(2)[np.where(rng.random(400) < 0.7, y, 1 - y)] * 0.6 + 0.2
    tfidf = np.eye(2)[np.where(rng.random(400) < 0.8, y, 1 - y)] * 0.6 + 0.2
    weight, record = keep_blend(net, tfidf, y, 0.45)  # a blend of two noisy parts: tie-breaking, no real gain
    assert record["part"] == "the TF-IDF model"
    if not record["kept"]:
        assert weight == 0.0 and "blend not kept" in record["reason"] and "inside the noise" in record["reason"]
    assert record["val_gain_ci"][0] <= record["val_gain"] <= record["val_gain_ci"][1]
    # two parts right on different notes: their average is right far more often than either
    a, b = np.full((400, 2), 0.5), np.full((400, 2), 0.5)
    half = np.arange(400) < 200
    a[half] = np.eye(2)[y[half]] * 0.9 + 0.05
    b[~half] = np.eye(2)[y[~half]] * 0.9 + 0.05
    a[~half] = np.eye(2)[1 - y[~half]] * 0.2 + 0.4
    b[half] = np.eye(2)[1 - y[half]] * 0.2 + 0.4
    weight, record = keep_blend(a, b, y, 0.5)
    assert record["kept"] and weight == 0.5 and record["reason"].startswith("blend kept")


def _imbalanced_csv(path: Path) -> Path:
    """Labels that do not say which is positive (ADE / not_ADE), ADE the minority."""
    rng = random.Random(0)
    rows = [{"text": r["text"], "label": "ADE" if r["label"] == "1" else "not_ADE"} for r in make_rows(420, seed=3)
            if r["label"] == "0" or rng.random() < 0.4]
    return write_csv(path, rows)


def test_tfidf_run_names_its_positive_class_and_scores_its_baseline_by_the_same_rule(tmp_path):
    data = _imbalanced_csv(tmp_path / "ade.csv")
    result = runner.invoke(app, ["train", "--data", str(data), "--backbone", "tfidf", "--runs-root",
                                 str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    p = json.loads(result.stdout)
    assert p["positive_label"] == {"label": "ADE", "index": 0, "why": WHY_MINORITY}
    assert p["operating_point"]["rule"] == "argmax"  # the default "auto" on a binary task
    for key in ("roc_auc", "pr_auc", "log_loss"):
        assert p["metrics"][key] is not None and p["baseline"][key] is not None, key
    # the TF-IDF run is its own baseline: post-processed by the same rule, it predicts the same
    assert p["baseline"]["f1_macro"] == p["metrics"]["f1_macro"] and p["vs_baseline"]["delta_f1_macro"] == 0
    assert p["baseline_val"]["f1_macro"] == p["val_metrics"]["f1_macro"]
    saved = json.loads((Path(p["run_dir"]) / "metrics.json").read_text())
    assert saved["positive_label"]["why"] == WHY_MINORITY
    text = runner.invoke(app, ["train", "--data", str(data), "--backbone", "tfidf", "--runs-root",
                               str(tmp_path / "runs"), "--quiet", "--set", "data.positive_label=not_ADE"])
    assert text.exit_code == 0


def test_bad_positive_label_is_one_line_exit_2_before_any_run_directory(tmp_path):
    data = _imbalanced_csv(tmp_path / "ade.csv")
    for extra in (["--dry-run"], []):
        result = runner.invoke(app, ["train", "--data", str(data), "--backbone", "tfidf", "--runs-root",
                                     str(tmp_path / "runs"), "--set", "data.positive_label=ade", *extra])
        assert result.exit_code == 2
        assert "not a class" in result.output and "ADE, not_ADE" in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_refit_ships_a_model_fitted_on_train_and_validation_but_chooses_on_train_only_predictions():
    from clinitui.data.readers import Table
    from clinitui.data.splits import make_dataset
    from clinitui.engine.tfidf.load import fit_for_run, fit_on_dataset

    rows = make_rows(300, seed=5, n_classes=3)
    ds = make_dataset(Table([r["text"] for r in rows], [r["label"] for r in rows], None, source="t"), seed=1)
    alone, _ = fit_on_dataset(ds, seed=0)
    kept, _, val_probs = fit_for_run(ds, seed=0, refit=False)
    refit, _, honest = fit_for_run(ds, seed=0, refit=True)
    np.testing.assert_array_equal(val_probs, alone.predict_proba(ds.val.texts))
    np.testing.assert_array_equal(honest, val_probs)  # choices on validation: the train-only fit's predictions
    assert kept.c == alone.c == refit.c and refit.val_f1 == alone.val_f1
    seen = lambda m: len(m.word.idf_) + len(m.char.idf_)  # noqa: E731
    assert seen(refit) > seen(alone)  # the shipped model learnt terms from the validation notes too


def test_a_network_level_with_tfidf_on_validation_is_not_shipped_alone():
    """The grid gave the network all the weight, but its lead over TF-IDF is a note or two: TF-IDF ships."""
    from clinitui.engine.tfidf.blend import keep_blend

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 500)
    right = rng.random(500) < 0.85
    tfidf = np.eye(2)[np.where(right, y, 1 - y)] * 0.6 + 0.2
    flipped = right.copy()
    wrong = np.flatnonzero(~right)[:2]  # the network is right on two notes more
    flipped[wrong] = True
    net = np.eye(2)[np.where(flipped, y, 1 - y)] * 0.6 + 0.2
    weight, record = keep_blend(net, tfidf, y, 1.0)
    assert weight == 0.0 and not record["kept"] and record["part"] == "the TF-IDF model"
    assert record["reason"].startswith("network alone not kept") and "shipping the TF-IDF model alone" in record["reason"]
    assert 0 < record["network_gain"] < 1.96 * record["network_gain_se"]
    # a network far ahead keeps all the weight
    net = np.eye(2)[y] * 0.6 + 0.2
    weight, record = keep_blend(net, tfidf, y, 1.0)
    assert weight == 1.0 and record["part"] == "the network" and "all the weight on the network" in record["reason"]


def test_the_networks_epoch_is_judged_out_of_sample_when_every_epochs_predictions_are_given():
    """Fifteen epochs of equally good, independent noise: the best on validation looks ahead of TF-IDF
    in sample; chosen on one half and scored on the other, the lead shrinks to chance."""
    from clinitui.engine.tfidf.blend import keep_blend

    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 400)

    def predictor(accuracy: float) -> np.ndarray:
        return np.eye(2)[np.where(rng.random(400) < accuracy, y, 1 - y)] * 0.6 + 0.2

    tfidf = predictor(0.8)
    history = [predictor(0.8) for _ in range(15)]
    best = max(history, key=lambda h: (h.argmax(1) == y).mean())
    _, in_sample = keep_blend(best, tfidf, y, 1.0)
    _, out_of_sample = keep_blend(best, tfidf, y, 1.0, val_history=history)
    assert out_of_sample["network_gain"] < in_sample["network_gain"] - 0.01
    assert out_of_sample["part"] == "the TF-IDF model"


def test_a_validation_split_too_small_to_halve_is_judged_in_sample_without_failing():
    from clinitui.engine.tfidf.blend import keep_blend

    rng = np.random.default_rng(3)
    y = np.arange(6)  # six classes, one note each: no half holds a note of every class
    net, tfidf = rng.dirichlet(np.ones(6), 6), rng.dirichlet(np.ones(6), 6)
    for history in (None, [tfidf, net]):
        weight, record = keep_blend(net, tfidf, y, 0.5, history)
        assert weight in (0.0, 0.5, 1.0) and record["val_gain_ci"][0] <= record["val_gain_ci"][1]
