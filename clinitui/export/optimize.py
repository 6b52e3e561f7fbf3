"""Make an exported graph fast, and check it still predicts what the checkpoint predicts (torch-free).

Run by ``clinitui export`` once the traced ``model.onnx`` is written (docs/export.md):

1. **graph optimisation**: onnxruntime's transformer optimizer (``onnxruntime.transformers``:
   attention, layer-norm, GELU and bias fusions for BERT-like graphs), kept only when the optimised
   graph gives the traced graph's probabilities on the check set within 1e-4; else ORT's own
   optimisations at the *extended* level, saved (the *all* level adds layout changes tied to the
   CPU that saves them: predict applies it at load instead);
2. a **check set**: synthetic demo notes (clinitui/data/demo.py, never patient text), tokenized
   with the export's tokenizer, stored as token ids with the float graph's probabilities in
   ``check.npz`` (numpy, no pickle) so anyone can check a graph against them again;
3. with ``--quantize int8``: **dynamic int8 quantisation** (``onnxruntime.quantization.quantize_dynamic``,
   int8 weights, activations quantised per batch at run time); the labels it chooses are compared
   with the float graph's on the check set, and that agreement is written into ``export.json``
   (``quantization``), where ``predict`` reads and prints it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from clinitui.errors import ConfigError

CHECK = "check.npz"
CHECK_NOTES = 256
QUANTIZE = ("int8",)  # --quantize choices
FUSION_TOLERANCE = 1e-4


def _ort():
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError("exporting needs onnxruntime; install it with pip install 'clinitui[onnx]'") from None
    return ort


def check_ids(model, n: int = CHECK_NOTES) -> list[list[int]]:
    """Token ids of ``n`` synthetic demo notes of many lengths, as ``model`` (ExportedModel) reads notes."""
    from clinitui.data.demo import generate_notes

    texts, _ = generate_notes(n, seed=20240)
    return model.encode(list(texts))


def _ort_optimize(src: Path, dst: Path) -> None:
    ort = _ort()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(dst)
    options.log_severity_level = 3
    ort.InferenceSession(str(src), options, providers=["CPUExecutionProvider"])


def _fused(src: Path, dst: Path) -> dict | None:
    """onnxruntime's transformer fusions on ``src`` into ``dst``: {fused operator: count}, or None
    when the optimizer is unavailable or fails."""
    try:
        import logging

        from onnxruntime.transformers import optimizer
    except ImportError:
        return None
    try:
        logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
        optimized = optimizer.optimize_model(str(src), model_type="bert", num_heads=0, hidden_size=0, opt_level=1,
                                             use_gpu=False)
        optimized.save_model_to_file(str(dst))
        return {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
    except Exception:  # an unusual graph the pattern matcher trips on: the plain ORT optimisation stands
        return None


def optimize(folder: Path, model, quantize: str | None) -> dict:
    """Optimise (and quantise) ``folder``'s ``model.onnx`` in place; the manifest's new entries.

    ``model``: the export loaded (:class:`~clinitui.export.onnx_predict.ExportedModel`), for its
    tokenizer, graph runner and decision rule."""
    from clinitui.export.bundle import MODEL
    from clinitui.export.onnx_predict import graph_session, run_graph

    if quantize is not None and quantize not in QUANTIZE:
        raise ConfigError(f"--quantize {quantize}: unknown; the only choice is int8")
    ort = _ort()
    traced, fused, plain = folder / MODEL, folder / ".fused.onnx", folder / ".ort.onnx"
    ids = check_ids(model)
    reference = run_graph(graph_session(traced), ids, model.pad_id)
    how = "onnxruntime graph optimisations (extended level)"
    fusions = _fused(traced, fused)
    if fusions is not None and np.abs(run_graph(graph_session(fused), ids, model.pad_id) - reference).max() \
            < FUSION_TOLERANCE:
        os.replace(fused, traced)
        how = "onnxruntime.transformers fusions: " + (", ".join(f"{k} {v}" for k, v in sorted(fusions.items()))
                                                       or "none matched")
    else:
        _ort_optimize(traced, plain)
        os.replace(plain, traced)
    fused.unlink(missing_ok=True)
    float_probs = run_graph(graph_session(traced), ids, model.pad_id)
    lengths = np.asarray([len(x) for x in ids], dtype=np.int32)
    padded = np.full((len(ids), int(lengths.max())), model.pad_id, dtype=np.int32)
    for r, x in enumerate(ids):
        padded[r, : len(x)] = x
    np.savez_compressed(folder / CHECK, ids=padded, lengths=lengths, probabilities=float_probs.astype(np.float32))
    out = {"optimization": {"method": how, "onnxruntime": ort.__version__}, "check_set": {
        "file": CHECK, "notes": len(ids), "what": "token ids of synthetic demo notes (no patient text) and the "
                                                  "float graph's probabilities"}}
    if quantize == "int8":
        out["quantization"] = _int8(folder, model, ids, float_probs)
    return out


def _int8(folder: Path, model, ids: list[list[int]], float_probs: np.ndarray) -> dict:
    """Quantise ``model.onnx`` to int8 weights in place; its agreement with the float graph."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from clinitui.export.bundle import MODEL
    from clinitui.export.onnx_predict import apply_temperature, graph_session, run_graph

    src, dst = folder / MODEL, folder / ".int8.onnx"
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime's advice to pre-process (done: the graph is optimised) is noise here
    try:  # the fused graph's contrib operators have no ONNX shape inference: their outputs are float
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)
    int8_probs = run_graph(graph_session(dst), ids, model.pad_id)
    os.replace(dst, src)
    temperature = model.manifest.get("temperature")
    same = model.decide(apply_temperature(int8_probs, temperature)) == model.decide(
        apply_temperature(float_probs, temperature))
    agree = same.all(axis=1) if same.ndim == 2 else same  # multi-label: the whole label set
    return {"type": "int8", "method": "dynamic (onnxruntime.quantization.quantize_dynamic, int8 weights)",
            "agreement": round(float(agree.mean()), 4), "check_notes": len(ids),
            "max_abs_diff": round(float(np.abs(int8_probs - float_probs).max()), 5)}
