"""Frozen-backbone feature cache: the cached path gives the model the uncached path gives."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from clinitui.config.schema import ModelConfig, RunConfig, TrainConfig
from clinitui.engine.train import feature_cache
from clinitui.engine.train.loop import EncodedSplit, fit, predict_probs
from clinitui.events import read_events
from clinitui.models.classifier import build_classifier, make_tokenizer
from tests.conftest import make_rows

CPU = torch.device("cpu")
BIG = 1 << 40  # a cache limit nothing reaches


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: fast and steady on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_setup(adapter: str, *, adapter_options: dict | None = None, dropout: float = 0.0, n: int = 160):
    """A tiny frozen scratch classifier and its encoded train/val splits."""
    rows = make_rows(n, seed=3)
    texts, labels = [r["text"] for r in rows], [int(r["label"]) for r in rows]
    cfg = ModelConfig(adapter=adapter, freeze="backbone", dropout=dropout, adapter_options=adapter_options or {},
                      backbone_options={"size": "tiny", "vocab_size": 300, "min_frequency": 2, "dropout": 0.1})
    tokenizer = make_tokenizer(cfg, texts[:120])
    torch.manual_seed(0)
    model, freeze = build_classifier(cfg, 2, tokenizer)
    assert freeze == "backbone"
    encode = lambda a, b: EncodedSplit(tokenizer.encode(texts[a:b], 48), labels[a:b])  # noqa: E731
    return model, tokenizer.pad_id, encode(0, 120), encode(120, n)


def collect():
    events = []
    return events, lambda type, **fields: events.append({"type": type, **fields}) or events[-1]


@pytest.mark.parametrize("adapter", ["grn", "tinyattention"])
def test_cached_predictions_equal_uncached(adapter):
    model, pad, train, val = tiny_setup(adapter)
    events, emit = collect()
    cache = feature_cache.build(model, {"train": train, "val": val}, pad_id=pad, batch_size=7, device=CPU,
                                precision="fp32", limit=BIG, emit=emit)
    assert cache is not None and cache.dtype == torch.float32
    assert cache.level == ("token" if adapter == "tinyattention" else "pooled")
    assert [e["type"] for e in events] == ["feature_cache"]
    # different batch sizes: padding differs between the cached and the uncached forward passes
    for split, name in ((train, "train"), (val, "val")):
        plain = predict_probs(model, split, pad, 16, CPU)
        cached = predict_probs(model, split, pad, 5, CPU, cached=(cache, name))
        np.testing.assert_allclose(cached, plain, atol=1e-5)


@pytest.mark.parametrize("adapter,options", [("grn", {"dropout": 0.0}), ("linear", {}), ("tinyattention", {"dropout": 0.0})])
def test_training_on_cached_features_matches_uncached(adapter, options):
    """Same start, same data order: same losses, same validation scores, same trained weights."""
    model, pad, train, val = tiny_setup(adapter, adapter_options=options)  # backbone dropout stays 0.1
    start = copy.deepcopy(model.state_dict())
    cfg = TrainConfig(epochs=2, lr=3e-3, batch_size=16, log_every=1, early_stopping=False, baseline=False)
    runs = {}
    for limit in (None, BIG):
        model.load_state_dict(start)
        torch.manual_seed(1)
        events, emit = collect()
        fit(model, train, val, cfg=cfg, micro_batch=8, pad_id=pad, label_names=["0", "1"], positive_index=1,
            device=CPU, precision="fp32", emit=emit, save_best=lambda epoch, metrics: None,
            feature_cache_limit=limit)
        runs[limit] = (events, copy.deepcopy(model.state_dict()))
    (plain_events, plain_state), (cached_events, cached_state) = runs[None], runs[BIG]
    assert any(e["type"] == "feature_cache" for e in cached_events)
    assert not any(e["type"] == "feature_cache" for e in plain_events)
    plain_losses = [e["loss"] for e in plain_events if e["type"] == "step"]
    cached_losses = [e["loss"] for e in cached_events if e["type"] == "step"]
    assert len(plain_losses) == len(cached_losses) == 16
    np.testing.assert_allclose(cached_losses, plain_losses, rtol=1e-4, atol=1e-5)
    assert not torch.equal(plain_state["head.weight"], start["head.weight"])  # it trained: not a vacuous match
    f1 = lambda evs: [e["f1_macro"] for e in evs if e["type"] == "eval"]  # noqa: E731
    np.testing.assert_allclose(f1(cached_events), f1(plain_events), atol=1e-6)
    # TinyAttention's near-zero gradients (its output projection starts at 1e-3) differ in the last
    # float bits between padded shapes, and Adam scales them up to steps of about lr: looser there.
    atol = 1e-3 if adapter == "tinyattention" else 1e-5
    for name, tensor in plain_state.items():
        torch.testing.assert_close(cached_state[name], tensor, rtol=1e-4, atol=atol)


def test_fp16_when_fp32_does_not_fit_and_fallback_when_nothing_fits():
    model, pad, train, val = tiny_setup("tinyattention")
    splits = {"train": train, "val": val}
    fp32 = sum(feature_cache.cache_bytes("token", s.lengths, model.backbone.hidden_size, 4) for s in splits.values())
    events, emit = collect()
    half = feature_cache.build(model, splits, pad_id=pad, batch_size=8, device=CPU, precision="fp32",
                               limit=fp32 - 1, emit=emit)
    assert half is not None and half.dtype == torch.float16 and half.nbytes == fp32 // 2
    np.testing.assert_allclose(predict_probs(model, val, pad, 8, CPU, cached=(half, "val")),
                               predict_probs(model, val, pad, 8, CPU), atol=1e-2)
    none = feature_cache.build(model, splits, pad_id=pad, batch_size=8, device=CPU, precision="fp32",
                               limit=fp32 // 2 - 1, emit=emit)
    assert none is None
    assert events[-1]["type"] == "warning" and "feature cache off" in events[-1]["message"]


def test_a_training_backbone_is_never_cached():
    model, pad, train, val = tiny_setup("grn")
    for p in model.backbone.parameters():
        p.requires_grad = True
    events, emit = collect()
    assert feature_cache.build(model, {"train": train}, pad_id=pad, batch_size=8, device=CPU, precision="fp32",
                               limit=BIG, emit=emit) is None
    assert "the backbone trains" in events[-1]["message"]


@pytest.mark.parametrize("use_cache", [True, False])
def test_engine_run_uses_the_cache_for_a_frozen_backbone(tmp_path, small_csv, use_cache):
    from clinitui.engine.recipes.train import execute, prepare

    config = RunConfig.model_validate({
        "data": {"path": str(small_csv)},
        "model": {"adapter": "grn", "freeze": "backbone",
                  "backbone_options": {"size": "tiny", "vocab_size": 300, "min_frequency": 2}},
        "train": {"epochs": 2, "max_length": 48, "batch_size": 16, "threads": 1, "baseline": False,
                  "feature_cache": use_cache},
        "budget": {"device": "cpu"},
    })
    (tmp_path / "run").mkdir(mode=0o700)
    payload = execute(prepare(config), tmp_path / "run")
    types = [e["type"] for e in read_events(tmp_path / "run")]
    assert ("feature_cache" in types) == use_cache
    assert types[-1] == "run_finished"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["steps"] == payload["steps"] > 0
