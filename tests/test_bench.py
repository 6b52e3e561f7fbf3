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
