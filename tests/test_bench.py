"""`clinitui bench` end to end on a tiny model (both sides really train), and the FLOPs arithmetic.

Only the benchmark's plumbing is checked here — the table, ratios, padding and FLOPs fields —
never its speed: timings belong to tests/benchmarks/ and docs/performance.md.
"""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.bench.flops import matmul_params, peak_tflops, training_flops

runner = CliRunner()


def test_training_flops_by_hand():
    # 2 sequences of 3 and 5 real tokens; 1,000 matmul weights; 2 layers of width 4
    # 6 · 1000 · 8 = 48,000 ; 12 · 2 · 4 · (9 + 25) = 3,264
    assert training_flops([3, 5], matmul=1000, layers=2, width=4) == 48_000 + 3_264


def test_matmul_params_counts_linear_weights_only():
    model = torch.nn.Sequential(torch.nn.Embedding(100, 8), torch.nn.Linear(8, 16), torch.nn.LayerNorm(16),
                                torch.nn.Linear(16, 2))
    assert matmul_params(model) == 8 * 16 + 16 * 2  # no embeddings, biases or norms


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA H200", 989.0),
    ("NVIDIA A100-SXM4-40GB", 312.0), ("NVIDIA L4", 121.0), ("Quadro P620", None),
])
def test_peak_tflops_from_the_cuda_name(name, peak):
    assert peak_tflops(name) == peak


def test_bench_cli_trains_both_sides_and_reports_ratios(tmp_path):
    out = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", "--model", "tiny", "--rows", "32", "--val-rows", "16", "--batch-size", "16",
                                 "--micro-batch", "16", "--epochs-frozen", "2", "--threads", "1",
                                 "--variants", "ref-full,grn-full,ref-frozen,grn-frozen", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = result.stdout
    assert table.startswith("| model | data | variant |") and "GPU peak" not in table  # CPU: no GPU columns
    rows = {r["variant"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"ref-full", "grn-full", "ref-frozen", "grn-frozen"}
    for r in rows.values():
        assert r["steps"] == (2 if r["variant"].endswith("full") else 4)  # same optimizer steps both sides
        assert r["wall_s"] > 0 and r["tokens_per_s"] > 0 and r["peak_rss_bytes"] > 0
    assert rows["ref-full"]["ratio"] == rows["ref-frozen"]["ratio"] == 1.0
    assert rows["grn-full"]["ratio"] == pytest.approx(
        rows["grn-full"]["samples_per_s"] / rows["ref-full"]["samples_per_s"], rel=1e-2)
    # both sides see the same real tokens; length bucketing pads less than Trainer's random batches
    assert rows["grn-full"]["real_tokens"] == rows["ref-full"]["real_tokens"]
    assert rows["grn-full"]["padding_fraction"] < rows["ref-full"]["padding_fraction"]
    # model FLOPs for full fine-tuning only; no MFU without a known GPU peak
    assert rows["grn-full"]["model_flops"] > 0 and rows["ref-full"]["model_flops"] > 0
    assert rows["grn-frozen"]["model_flops"] is None and rows["grn-full"]["mfu"] is None


def test_bench_refuses_bad_options_in_one_line():
    result = runner.invoke(app, ["bench", "--precision", "fp16"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "clinitui: error: --precision 'fp16': use fp32 or bf16, or fp16 with --device cuda"]
    result = runner.invoke(app, ["bench", "--rows", "30", "--batch-size", "16"])
    assert result.exit_code == 2 and "multiple of --batch-size" in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine runs the GPU benchmark instead")
def test_bench_on_cuda_without_a_gpu_is_refused_in_one_line():
    result = runner.invoke(app, ["bench", "--device", "cuda", "--precision", "bf16"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "clinitui: error: --device cuda: torch sees no CUDA GPU here; use --device cpu"]


def _csv(path, n_train: int, n_test: int):
    lines = ["text,label,split"] + [f"note {i} word{i % 7},{'ab'[i % 2]},train" for i in range(n_train)]
    lines += [f"held {i},{'ab'[i % 2]},test" for i in range(n_test)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bench_on_a_file_without_dev_rows_validates_on_unused_training_rows(tmp_path):
    from clinitui.bench.classify import load_texts
    from clinitui.bench.common import BenchSpec

    spec = BenchSpec(data=str(_csv(tmp_path / "notes.csv", 40, 10)), rows=16, val_rows=8)
    train_texts, _, val_texts, val_labels, names = load_texts(spec)
    assert len(train_texts) == 16 and len(val_texts) == 8 and names == ["a", "b"]
    assert not set(train_texts) & set(val_texts) and all(t.startswith("note") for t in val_texts)  # no test rows


def test_bench_on_too_small_a_file_is_one_line(tmp_path):
    data = _csv(tmp_path / "notes.csv", 16, 5)  # all 16 would train: nothing left to validate on
    result = runner.invoke(app, ["bench", "--data", str(data), "--rows", "16", "--val-rows", "8", "--threads", "1"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"clinitui: error: --data {data}: 16 training rows and 0 for validation; --rows 16 needs that many "
        "training rows and at least one more (or a dev split): lower --rows or give a larger file"]
