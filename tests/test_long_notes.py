"""``--long-notes truncate|head-tail|chunk``: windows, pooling, statistics, and a chunked run end to end."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.config.schema import ModelConfig, RunConfig
from clinitui.data import windows as win
from clinitui.data.readers import read_table
from clinitui.data.tokenizers import train_tokenizer
from clinitui.engine.encode import long_notes
from clinitui.engine.encode.batching import batch_order, collate_split
from clinitui.engine.train.loop import predict_probs
from clinitui.errors import ConfigError
from clinitui.models.classifier import build_classifier
from tests.conftest import TINY, make_rows, write_csv

runner = CliRunner()
CLS, SEP = -1, -2  # stand-ins for the special tokens: windows must keep them at both ends


def note(n_body: int) -> list[int]:
    return [CLS, *range(n_body), SEP]


# -- the cutting, on token ids --------------------------------------------------------------------
@pytest.mark.parametrize("n_body, window, stride", [(5, 12, 5), (10, 12, 5), (11, 12, 5), (100, 12, 3),
                                                    (100, 12, 10), (257, 64, 47), (1000, 130, 128)])
def test_windows_cover_every_token_with_the_configured_overlap(n_body, window, stride):
    windows = win.chunk(note(n_body), window, stride)
    span = window - 2
    assert all(w[0] == CLS and w[-1] == SEP and len(w) <= window for w in windows)
    bodies = [w[1:-1] for w in windows]
    assert sorted({t for b in bodies for t in b}) == list(range(n_body))  # every token, nothing else
    assert all(b == list(range(b[0], b[0] + len(b))) for b in bodies)  # contiguous pieces, in order
    starts = [b[0] for b in bodies]
    assert starts == sorted(starts) and bodies[-1][-1] == n_body - 1  # the last window ends with the note
    assert all(b - a == stride for a, b in zip(starts[:-2], starts[1:-1]))  # the configured stride ...
    if len(windows) > 1:  # ... so neighbours share span - stride tokens (the last pair at least that)
        assert all(len(set(x) & set(y)) >= span - stride for x, y in zip(bodies, bodies[1:]))
        assert len(set(bodies[0]) & set(bodies[1])) == span - stride if len(windows) > 2 else True


def test_max_chunks_keeps_the_first_windows_and_the_last():
    windows = win.chunk(note(1000), 12, 10, max_chunks=4)
    assert len(windows) == 4
    assert [w[1] for w in windows] == [0, 10, 20, 990] and windows[-1][-2] == 999
    assert win.chunk(note(1000), 12, 10, max_chunks=1) == [win.truncate(note(1000), 12)]
    stats = win.truncation_stats([1002], 12, "chunk", 10, 4)
    assert stats.windows == 4 and stats.notes_capped == 1 and stats.tokens_dropped == 1000 - 40


def test_head_tail_keeps_the_beginning_and_the_end():
    kept = win.head_tail(note(100), 22, 0.25)  # 20 text tokens: 5 from the head, 15 from the tail
    assert kept == [CLS, 0, 1, 2, 3, 4, *range(85, 100), SEP]
    assert win.head_tail(note(100), 22, 0.5) == [CLS, *range(10), *range(90, 100), SEP]
    assert win.head_tail(note(100), 22, 1.0) == win.truncate(note(100), 22) == [CLS, *range(20), SEP]
    assert win.head_tail(note(20), 22, 0.25) == note(20)  # a note that fits is left whole


def test_batches_are_cut_by_windows_and_max_chunks_bounds_a_forward_pass():
    rng = random.Random(0)
    sizes = [rng.randint(1, 6) for _ in range(200)]
    lengths = [s * 10 for s in sizes]
    for order_rng in (None, random.Random(1)):
        batches = batch_order(lengths, 8, order_rng, bucket=True, sizes=sizes)
        assert sorted(i for b in batches for i in b) == list(range(200))
        assert all(sum(sizes[i] for i in b) <= 8 for b in batches)
    assert batch_order([5, 5], 4, None, bucket=False, sizes=[9, 1]) == [[0], [1]]  # a note of 9 stands alone


def test_an_oom_backoff_halves_the_windows_of_a_micro_batch():
    from clinitui.engine.memory.oom import StepBackoff

    backoff = StepBackoff(8, 32, device=torch.device("cpu"), emit=lambda *a, **k: {}, reset=lambda: None, max_length=16)
    backoff.sizes = [3, 3, 2, 4, 4]
    assert backoff.split([[0, 1, 2], [3, 4]]) == [[0, 1, 2], [3, 4]]  # as planned: ≤ 8 windows each
    backoff.size = 4  # after one halving
    assert backoff.split([[0, 1, 2], [3, 4]]) == [[0], [1], [2], [3], [4]]


def test_the_planner_refuses_a_max_chunks_that_cannot_fit():
    from clinitui.engine.memory.planner import plan_for_config

    # 1 GiB: a 256-window note of the tiny encoder needs ≈ 2 GiB (fused attention: linear in the windows)
    base = {"budget": {"device": "cpu", "memory_bytes": 1 << 30, "max_micro_batch": 8},
            "model": {"backbone_options": {"size": "tiny"}}, "train": {"batch_size": 8, "max_length": 512}}
    plan = plan_for_config(RunConfig(**base, data={"long_notes": "chunk", "max_chunks": 8}))
    assert any("count windows" in n for n in plan.notes)
    with pytest.raises(ConfigError, match="data.max_chunks"):
        plan_for_config(RunConfig(**base, data={"long_notes": "chunk", "max_chunks": 256}))


def test_bad_long_notes_settings_get_one_line_and_exit_2(tmp_path):
    with pytest.raises(ConfigError, match="chunk_stride"):
        long_notes.check(RunConfig(data={"long_notes": "chunk", "chunk_stride": 40}, train={"max_length": 32}))
    for args in (["--long-notes", "chunk", "--set", "data.chunk_stride=999"], ["--long-notes", "middle"],
                 ["--long-notes", "chunk", "--nproc", "2"]):
        result = runner.invoke(app, ["train", "--run-dir", str(tmp_path / "never"), *args])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "never").exists()


# -- statistics on a hand-made file, with a real tokenizer -----------------------------------------
def test_truncation_stats_are_right_on_a_hand_made_file(tmp_path):
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    lengths = {5: 3, 10: 3, 30: 2}  # words per note → number of such notes
    rows = [{"text": " ".join(words[k % 5] for k in range(n)), "label": str(i % 2)}
            for n, count in lengths.items() for i in range(count)]
    table = read_table(write_csv(tmp_path / "hand.csv", rows), "text", "label")
    tokenizer = train_tokenizer(table.texts, vocab_size=200, min_frequency=1)
    from clinitui.engine.encode.documents import encode_documents

    # one token per word, plus [CLS] and [SEP]: the counts below follow from the file by hand
    assert [len(x) for x in encode_documents(tokenizer, table.texts)] == [7] * 3 + [12] * 3 + [32] * 2
    total = 3 * 5 + 3 * 10 + 2 * 30
    expect = {  # window 12 = 10 text tokens; the 30-word notes lose 20 each under truncate and head-tail
        "truncate": 40, "head-tail": 40,
        "chunk": 0,  # stride 5: windows at 0, 5, 10, 15, 20 cover all 30
    }
    for mode, dropped in expect.items():
        spec = {"mode": mode, "stride": 5, "max_chunks": 8, "head_fraction": 0.25}
        split, stats = long_notes.encode(tokenizer, table.texts, [], spec, 12)
        assert (stats.notes, stats.notes_over_window, stats.tokens) == (8, 2, total)
        assert stats.tokens_dropped == dropped and stats.tokens_dropped_share == round(dropped / total, 6)
        assert (split.windows is not None) == (mode == "chunk")
    _, capped = long_notes.encode(tokenizer, table.texts, [], {"mode": "chunk", "stride": 5, "max_chunks": 2}, 12)
    assert capped.tokens_dropped == 2 * 10 and capped.windows == 6 + 2 * 2 and capped.notes_capped == 2


# -- the model: one window = truncate, exactly; the feature cache agrees ----------------------------
def _model(pooling: str, adapter: str = "grn"):
    texts = [r["text"] for r in make_rows(60, seed=3)]
    tokenizer = train_tokenizer(texts, vocab_size=300, min_frequency=1)
    cfg = ModelConfig(backbone="scratch-transformer", adapter=adapter, chunk_pooling=pooling,
                      backbone_options={"size": "tiny"})
    torch.manual_seed(0)
    model, _ = build_classifier(cfg, 3, tokenizer)
    if pooling == "attention":  # a non-trivial score, so the pooling has something to weigh
        torch.nn.init.normal_(model.window_pool.score.weight)
    return model.eval(), tokenizer, texts


@pytest.mark.parametrize("pooling", ["mean", "max", "attention"])
def test_a_note_shorter_than_the_window_is_predicted_as_under_truncate(pooling):
    model, tokenizer, texts = _model(pooling)
    labels = [0] * len(texts)
    cpu = torch.device("cpu")
    plain, _ = long_notes.encode(tokenizer, texts, labels, {"mode": "truncate"}, 64)
    chunked, stats = long_notes.encode(tokenizer, texts, labels, {"mode": "chunk", "stride": 40, "max_chunks": 4}, 64)
    assert stats.notes_over_window == 0 and stats.windows == len(texts)
    assert np.array_equal(predict_probs(model, plain, tokenizer.pad_id, 16, cpu),
                          predict_probs(model, chunked, tokenizer.pad_id, 16, cpu))


@pytest.mark.parametrize("adapter, pooling", [("grn", "max"), ("tinyattention", "attention")])
def test_chunked_notes_through_the_feature_cache_match_the_full_model(adapter, pooling):
    from clinitui.engine.train import feature_cache

    model, tokenizer, texts = _model(pooling, adapter)
    for p in model.backbone.parameters():
        p.requires_grad = False
    split, stats = long_notes.encode(tokenizer, texts, [i % 3 for i in range(len(texts))],
                                     {"mode": "chunk", "stride": 6, "max_chunks": 3}, 12)
    assert stats.max_windows_per_note == 3 and stats.windows > len(texts)
    cache = feature_cache.build(model, {"val": split}, pad_id=tokenizer.pad_id, batch_size=8,
                                device=torch.device("cpu"), precision="fp32", limit=1 << 30, emit=lambda *a, **k: {})
    rows = [0, 5, 7, 31]
    batch = collate_split(split, rows, tokenizer.pad_id)
    with torch.no_grad():
        direct = model(batch.input_ids, batch.attention_mask, batch.owners)
        cached = feature_cache.FeatureCache.forward(model, cache.collate("val", rows))
    assert direct.shape == (4, 3) and torch.allclose(direct, cached, atol=1e-5)


# -- end to end through the CLI ---------------------------------------------------------------------
def _long_rows(n: int) -> list[dict]:
    """Short notes, and long ones whose label word sits only at the end (past a 16-token window)."""
    rows = make_rows(n, seed=11)
    filler = "patient stable examen normal contrôle surveillance"
    for i, row in enumerate(rows):
        if i % 3 == 0:
            row["text"] = f"{filler} {filler} {filler} {row['text']}"
        row["split"] = ["train", "train", "train", "dev", "test"][i % 5]
    return rows


@pytest.fixture(scope="module")
def chunk_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    data = write_csv(root / "notes.csv", _long_rows(150))
    args = ["train", "--data", str(data), "--split-col", "split", "--long-notes", "chunk", "--run-dir",
            str(root / "run"), "--epochs", "2", "--json", "--quiet", *TINY, "--set", "train.max_length=16",
            "--set", "data.max_chunks=4", "--set", "train.state_every_s=0", "--set", "train.bootstrap=0",
            "--set", "train.baseline=false"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return data, root / "run", json.loads(result.stdout), args


def test_chunked_run_reports_truncation_everywhere(chunk_run):
    data, run, payload, _ = chunk_run
    t = payload["truncation"]
    assert t["mode"] == "chunk" and t["notes"] == 150 and 50 <= t["notes_over_window"] <= 150
    assert 0 <= t["tokens_dropped_share"] < 0.5 and t["max_windows_per_note"] <= 4
    assert json.loads((run / "metrics.json").read_text())["truncation"] == t
    started = next(json.loads(x) for x in (run / "events.jsonl").read_text().splitlines() if '"run_started"' in x)
    assert started["truncation"] == t
    texts = set(read_table(data, "text", "label").texts)
    blob = json.dumps(t) + (run / "events.jsonl").read_text()
    assert not any(text in blob for text in texts)  # counts only, never note text
    spec = json.loads((run / "checkpoint" / "config.json").read_text())["long_notes"]
    assert spec == {"mode": "chunk", "window": 16, "stride": 10, "max_chunks": 4, "pooling": "mean"}


def test_chunked_checkpoint_evals_and_predicts_as_trained(chunk_run, tmp_path):
    data, run, payload, _ = chunk_run
    result = runner.invoke(app, ["eval", str(run), "--data", str(data), "--split-col", "split", "--json",
                                 "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["f1_macro"] == pytest.approx(payload["metrics"]["f1_macro"], abs=1e-9)
    out = tmp_path / "pred.csv"
    result = runner.invoke(app, ["predict", str(run), "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(out.open()))) == 150


def test_chunked_run_resumes_to_the_same_metrics(chunk_run, tmp_path):
    from clinitui.cli.train import build_config
    from clinitui.engine.recipes.train import execute, prepare
    from clinitui.errors import StopRequested
    from clinitui.events import read_events

    data, _, payload, args = chunk_run
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    config = build_config(data=data, text_col=None, label_col=None, split_col="split", backbone=None, adapter=None,
                          epochs=2, max_length=None, seed=None, sets=sets, long_notes="chunk")
    from clinitui.runs import new_run_dir

    again = new_run_dir(tmp_path, "x", "y", tmp_path / "again")
    calls = []
    with pytest.raises(StopRequested):  # stopped after its third step, state saved (as SIGTERM does)
        execute(prepare(config), again, should_stop=lambda: calls.append(1) or len(calls) >= 3)
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "again"), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    resumed = json.loads(result.stdout)
    assert [e for e in read_events(tmp_path / "again") if e["type"] == "run_started"][-1]["resumed_from_step"] == 3
    assert resumed["truncation"] == payload["truncation"] and resumed["steps"] == payload["steps"]
    assert resumed["metrics"] == payload["metrics"] and resumed["val_metrics"] == payload["val_metrics"]


def test_export_keeps_head_tail_and_refuses_chunk_with_one_line(chunk_run, tmp_path):
    pytest.importorskip("onnxruntime")
    from tests.test_export_onnx import QUICK, assert_same_probabilities

    data, run, _, _ = chunk_run
    result = runner.invoke(app, ["export", str(run), "--format", "onnx", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "chunk" in result.output and "Traceback" not in result.output
    ht = tmp_path / "ht"
    result = runner.invoke(app, ["train", "--data", str(data), "--split-col", "split", "--long-notes", "head-tail",
                                 "--run-dir", str(ht), "--json", "--quiet", *QUICK, *TINY, "--set", "train.max_length=16"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["truncation"]["mode"] == "head-tail"
    result = runner.invoke(app, ["export", str(ht), "--format", "onnx", "--out", str(tmp_path / "export")])
    assert result.exit_code == 0, result.output
    texts = read_table(data, "text", "label").texts
    assert_same_probabilities(ht, tmp_path / "export", texts[:40])  # long notes among them: cut as in training
