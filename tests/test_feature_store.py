"""The frozen backbone's feature cache on disk: reused by a second run, recomputed when the data or
the backbone changes, private, and safe to find damaged (engine/train/feature_store.py)."""

from __future__ import annotations

import stat

import pytest
import torch

from clinitui.config.schema import TrainConfig
from clinitui.engine.train import feature_cache, feature_store
from clinitui.engine.train.loop import EncodedSplit, fit
from tests.test_feature_cache import BIG, CPU, _one_thread, collect, tiny_setup  # noqa: F401 (autouse fixture)


def build(model, pad, splits, store, precision="fp32"):
    events, emit = collect()
    cache = feature_cache.build(model, splits, pad_id=pad, batch_size=8, device=CPU, precision=precision,
                                limit=BIG, emit=emit, store=store)
    return cache, [e for e in events if e["type"] == "feature_cache"][0], events


def test_second_build_reads_the_entry_and_gives_the_same_features(tmp_path):
    model, pad, train, val = tiny_setup("grn")
    first, event, _ = build(model, pad, {"train": train, "val": val}, tmp_path)
    assert event["reused"] is False and event["store"].startswith(str(tmp_path))
    second, event2, _ = build(model, pad, {"train": train, "val": val}, tmp_path)
    assert event2["reused"] is True and event2["store"] == event["store"]
    for name in ("train", "val"):
        assert torch.equal(first.splits[name].data, second.splits[name].data)
        assert torch.equal(first.splits[name].labels, second.splits[name].labels)
    # private, like run directories
    entry = tmp_path / event["store"].rsplit("/", 1)[1]
    assert stat.S_IMODE(entry.stat().st_mode) == 0o700
    assert stat.S_IMODE((entry / feature_store.FILE).stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]  # no temporary folder left


def test_other_data_other_backbone_or_precision_is_another_entry(tmp_path):
    model, pad, train, val = tiny_setup("grn")
    _, base, _ = build(model, pad, {"train": train, "val": val}, tmp_path)
    shorter = EncodedSplit([ids[:-1] for ids in val.ids], val.labels)  # e.g. another max_length
    _, other_data, _ = build(model, pad, {"train": train, "val": shorter}, tmp_path)
    assert other_data["reused"] is False and other_data["store"] != base["store"]
    _, bf16, _ = build(model, pad, {"train": train, "val": val}, tmp_path, precision="bf16")
    assert bf16["reused"] is False and bf16["store"] != base["store"]
    with torch.no_grad():  # other weights (another checkpoint of the same architecture)
        next(model.backbone.parameters()).add_(0.01)
    _, other_weights, _ = build(model, pad, {"train": train, "val": val}, tmp_path)
    assert other_weights["reused"] is False and other_weights["store"] != base["store"]
    # the labels are the run's own: an entry serves a relabelled split unchanged
    relabelled = EncodedSplit(val.ids, [1 - y for y in val.labels])
    cache, again, _ = build(model, pad, {"train": train, "val": relabelled}, tmp_path)
    assert again["reused"] is True and cache.splits["val"].labels.tolist() == relabelled.labels


def test_a_damaged_entry_is_said_and_computed_again(tmp_path):
    model, pad, train, val = tiny_setup("linear")
    _, event, _ = build(model, pad, {"train": train, "val": val}, tmp_path)
    entry = tmp_path / event["store"].rsplit("/", 1)[1]
    (entry / feature_store.FILE).write_bytes(b"not a torch file")
    _, again, events = build(model, pad, {"train": train, "val": val}, tmp_path)
    assert again["reused"] is False
    assert any(e["type"] == "warning" and "unusable" in e["message"] for e in events)
    _, third, _ = build(model, pad, {"train": train, "val": val}, tmp_path)
    assert third["reused"] is True


def test_a_second_fit_reuses_the_first_ones_features_with_the_same_result(tmp_path):
    results = []
    for _ in range(2):
        model, pad, train, val = tiny_setup("grn")
        events, emit = collect()
        cfg = TrainConfig(epochs=1, batch_size=16, lr=1e-2, early_stopping=False, baseline=False, seed=1)
        result = fit(model, train, val, cfg=cfg, micro_batch=16, pad_id=pad, label_names=["0", "1"],
                     positive_index=1, device=CPU, precision="fp32", emit=emit, save_best=lambda e, m: None,
                     feature_cache_limit=BIG, feature_cache_dir=tmp_path)
        results.append((result, [e for e in events if e["type"] == "feature_cache"][0]))
    (first, e1), (second, e2) = results
    assert e1["reused"] is False and e2["reused"] is True
    assert second.best_val["f1_macro"] == first.best_val["f1_macro"]
    assert second.best_val["loss"] == pytest.approx(first.best_val["loss"], abs=1e-6)


@pytest.mark.slow
def test_clinitui_train_twice_reuses_the_frozen_features_from_the_runs_root(tmp_path, monkeypatch):
    """Two `clinitui train` runs with a frozen backbone: the second reads the first's entry (its
    `feature_cache` event says so); another max_length is another entry."""
    import json

    from typer.testing import CliRunner

    from clinitui.cli.app import app
    from clinitui.events import read_events
    from tests.conftest import TINY, make_rows, write_csv

    monkeypatch.setenv("CLINITUI_RUNS_ROOT", str(tmp_path / "runs"))
    data = write_csv(tmp_path / "notes.csv", make_rows(160))
    runs = []
    for extra in ([], [], ["--set", "train.max_length=40"]):
        result = CliRunner().invoke(app, ["train", "--data", str(data), "--epochs", "1", "--json", "--quiet", *TINY,
                                          "--set", "model.freeze=backbone", "--set", "train.baseline=false", *extra])
        assert result.exit_code == 0, result.output
        run_dir = json.loads(result.stdout)["run_dir"]
        runs.append([e for e in read_events(run_dir) if e["type"] == "feature_cache"][0])
    assert [r["reused"] for r in runs] == [False, True, False]
    assert runs[0]["store"] == runs[1]["store"] != runs[2]["store"]
    assert runs[0]["store"].startswith(str(tmp_path / "runs" / ".cache" / "features"))
