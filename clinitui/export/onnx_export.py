"""``clinitui export RUN --format onnx --out DIR``: the checkpoint as an ONNX graph plus what it needs.

The graph takes ``input_ids`` and ``attention_mask`` (int64, dynamic batch and sequence axes) and
returns the network's class ``probabilities`` (softmax of the head's logits: backbone, adapter,
pooling and head included). The checkpoint's temperature and operating threshold, when it has
them, travel in ``export.json`` and are applied by the predict path in numpy, in the order the
PyTorch path applies them (docs/export.md). A checkpoint that blends the network with a TF-IDF
model (``--ensemble tfidf``, the default) takes that model's files along (``tfidf/``: JSON and
safetensors, no pickle) and the blend weight. Exported with TorchScript tracing (no ``onnxscript``
needed), in eval mode: dropout is off, as in ``clinitui predict``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import warnings
from pathlib import Path

from clinitui.errors import ConfigError, RunDirectoryError
from clinitui.export.bundle import FORMAT, FORMAT_VERSION, MANIFEST, MODEL, TOKENIZER
from clinitui.kinds import Predicts, Task, checkpoint_predicts
from clinitui.models.decoder_family import BASE_FILE

OPSET = 17


def _settings(raw: dict) -> dict:
    """Temperature and operating point from the checkpoint's config.json (both optional)."""
    out: dict = {}
    temperature = raw.get("temperature")
    if temperature is not None:
        out["temperature"] = float(temperature)
    op = raw.get("operating_point")
    if isinstance(op, dict) and op.get("threshold") is not None:
        out["operating_point"] = {"rule": str(op.get("rule", "")), "threshold": float(op["threshold"])}
    if Task.of(raw) is Task.MULTILABEL:  # sigmoid outputs; a label set at the per-label thresholds
        from clinitui.engine.evaluate.multilabel import thresholds_of

        out.update(task=Task.MULTILABEL.value, label_sep=str(raw.get("label_sep") or "|"),
                   label_thresholds=thresholds_of(raw, len(raw["label_names"])))
    return out


def _ensemble(info) -> dict | None:
    """The checkpoint's ``ensemble`` entry after its TF-IDF files pass their checksums, else None."""
    from clinitui.engine.tfidf.blend import load_part

    if checkpoint_predicts(info.raw) is not Predicts.BLEND:
        return None
    load_part(info)  # its files against their checksums
    spec = info.raw["ensemble"]
    return {"name": spec["name"], "weight": float(spec["weight"]), "path": spec["path"], "sha256": spec.get("sha256")}


def _tokenizer_json(tokenizer, out: Path) -> None:
    """Write ``tokenizer.json`` (the ``tokenizers`` format, readable without transformers or torch)."""
    inner = getattr(tokenizer, "tokenizer", None)
    if inner is not None and hasattr(inner, "save") and hasattr(inner, "encode_batch"):
        inner.save(str(out / TOKENIZER))  # a tokenizers.Tokenizer (from-scratch backbones)
        return
    backend = getattr(inner, "backend_tokenizer", None)  # a transformers fast tokenizer
    if backend is None:
        raise ConfigError("this backbone's tokenizer has no fast (tokenizers) version, so it cannot be exported; "
                          "choose a backbone with a tokenizer.json")
    backend.save(str(out / TOKENIZER))


@contextlib.contextmanager
def plain_attention():
    """While tracing: ``F.scaled_dot_product_attention`` spelt as softmax(q·kᵀ·scale + mask)·v with an
    additive mask built on the (batch, 1, 1, keys) mask, not the full score tensor.

    PyTorch's ONNX symbolic for SDPA turns a boolean mask into ``Where`` over every (batch, heads,
    query, key) score and adds ``IsNaN``/``Where`` for rows with no key: a quarter of the exported
    scratch model's time. The same arithmetic in fp32 (a masked key gets the float minimum, so its
    weight is exactly 0; every note has at least one token); PyTorch's own predict is untouched."""
    import torch
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention

    def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, **kw):
        if is_causal or kw.get("enable_gqa") or query.shape[-3] != key.shape[-3]:
            return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                            scale=scale, **kw)
        factor = scale if scale is not None else 1.0 / math.sqrt(query.shape[-1])
        scores = torch.matmul(query * factor, key.transpose(-2, -1))
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                attn_mask = (1.0 - attn_mask.to(scores.dtype)) * torch.finfo(scores.dtype).min
            scores = scores + attn_mask
        return torch.matmul(torch.softmax(scores, dim=-1), value)

    F.scaled_dot_product_attention = attention
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


def _optimized(folder: Path, quantize: str | None) -> dict:
    """Optimise (and quantise) the graph in ``folder``; the manifest's entries saying so."""
    from clinitui.export.onnx_predict import ExportedModel
    from clinitui.export.optimize import optimize

    return optimize(folder, ExportedModel(folder), quantize)


def export_onnx(checkpoint: Path, out: Path, *, sample_length: int = 16, quantize: str | None = None) -> dict:
    """Write the bundle into ``out`` (created; must be new or empty) and return its manifest.

    The traced graph is then optimised, checked and, with ``quantize="int8"``, quantised
    (export/optimize.py): ``export.json`` says how, and how well the int8 labels agree."""
    import torch

    from clinitui.export.optimize import QUANTIZE

    from clinitui.engine.checkpoint.folder import load_checkpoint, read_checkpoint_info

    if quantize is not None and quantize not in QUANTIZE:
        raise ConfigError(f"--quantize {quantize}: unknown; the only choice is int8 (or leave it out for float)")
    info = read_checkpoint_info(checkpoint)
    if checkpoint_predicts(info.raw) in (Predicts.SEED_AVERAGE, Predicts.TFIDF):
        raise ConfigError(f"{info.path}: a seed group or a tfidf checkpoint has no single network to export; "
                          "export one of its runs trained with a neural backbone")
    if (info.path / BASE_FILE).is_file():  # LoRA + head only; the base weights live in their own folder
        raise ConfigError(f"{info.path}: a decoder LLM checkpoint cannot be exported to ONNX (its multi-GB base "
                          "model is not in the checkpoint); use `clinitui predict` with the checkpoint")
    notes = info.raw.get("long_notes") or {"mode": "truncate"}
    if notes.get("mode") == "chunk":  # the graph reads one window per note; pooling windows is not in it yet
        raise ConfigError(f"{info.path}: a --long-notes chunk checkpoint cannot be exported to ONNX yet (the graph "
                          "takes one window per note); use `clinitui predict`, or train with --long-notes head-tail")
    ensemble = _ensemble(info)  # checked (sha256) before anything is written
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirectoryError(f"{out}: already exists and is not empty; choose a new --out folder")
    model, tokenizer, info = load_checkpoint(info.path, "cpu")
    multilabel = Task.of(info.raw) is Task.MULTILABEL  # one sigmoid per label, else a softmax

    class Probabilities(torch.nn.Module):
        def __init__(self, net) -> None:
            super().__init__()
            self.net = net

        def forward(self, input_ids, attention_mask):
            logits = self.net(input_ids, attention_mask).float()
            return torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=-1)

    wrapper = Probabilities(model).eval()
    ids = torch.full((2, sample_length), int(tokenizer.pad_id), dtype=torch.long)
    ids[:, 0] = 1
    mask = torch.zeros_like(ids)
    mask[0, :] = 1
    mask[1, : sample_length // 2] = 1
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o700)
    try:
        with torch.no_grad(), warnings.catch_warnings(), plain_attention():
            warnings.simplefilter("ignore")  # tracer notes about shapes: the test checks other shapes
            torch.onnx.export(
                wrapper, (ids, mask), str(tmp / MODEL), dynamo=False, opset_version=OPSET,
                input_names=["input_ids", "attention_mask"], output_names=["probabilities"],
                dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                              "attention_mask": {0: "batch", 1: "sequence"}, "probabilities": {0: "batch"}},
            )
        _tokenizer_json(tokenizer, tmp)
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "label_names": info.label_names,
            "positive_index": info.positive_index, "max_length": info.max_length, "pad_id": int(tokenizer.pad_id),
            "backbone": info.model.backbone, "adapter": info.model.adapter, "opset": OPSET,
            "inputs": ["input_ids", "attention_mask"], "output": "probabilities",
            **_settings(info.raw),
        }
        if notes.get("mode") == "head-tail":  # the predict path cuts whole notes as training did
            from clinitui.engine.encode.long_notes import window_of

            manifest["long_notes"] = {**notes, "window": window_of(tokenizer, info.max_length)}
        if ensemble is not None:  # the TF-IDF half of the blend travels as its own files (no pickle)
            shutil.copytree(info.path / ensemble["path"], tmp / ensemble["path"])
            manifest["ensemble"] = ensemble
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        manifest.update(_optimized(tmp, quantize))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for f in tmp.rglob("*"):  # the vocabularies hold pieces of training text (docs/privacy.md)
            os.chmod(f, 0o700 if f.is_dir() else 0o600)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RunDirectoryError(f"{out}: cannot write the export ({exc.strerror or exc}); choose another --out") from None
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest

