"""``clinitui predict EXPORT_DIR``: an ONNX export run with onnxruntime, without torch.

Tokenizes with ``tokenizers`` (the export's ``tokenizer.json``), batches notes of similar length
together as the PyTorch path does (less padding), runs the graph, then applies the checkpoint's
temperature (softmax(log p / T)) and operating threshold (binary: positive when p ≥ threshold)
in numpy. Nothing here imports torch (a test checks ``sys.modules``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from clinitui.engine.inference.rows import CHUNK_ROWS, Predictions, decision_rule, stream_rows
from clinitui.errors import CheckpointError, ConfigError
from clinitui.export.bundle import MODEL, TOKENIZER, read_manifest
from clinitui.kinds import Task

BATCH_SIZE = 64  # notes per graph run, as the PyTorch path's predict


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def graph_session(graph: Path, threads: int | None = None):
    """An onnxruntime session on ``graph`` (CPU): every graph optimisation, one intra-op thread per
    available core (or ``threads``), the operators run one after the other (a classifier's graph is a
    chain: parallel operators only add scheduling), the CPU memory arena on (a batch's buffers reused)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError("running an ONNX export needs onnxruntime; install it with pip install 'clinitui[onnx]'") from None
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or _cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = True
    options.log_severity_level = 3  # warnings about unused initialisers are noise for an operator
    try:
        return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # a truncated or altered graph
        raise CheckpointError(f"{graph}: onnxruntime cannot load it ({type(exc).__name__}); export the run again") from None


def run_graph(session, ids: list[list[int]], pad_id: int, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """The graph's probabilities for token-id rows, in input order: rows sorted by length and cut into
    batches of ``batch_size`` (less padding), each padded to its longest row."""
    out = None
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        longest = max(1, max(len(ids[i]) for i in rows))
        input_ids = np.full((len(rows), longest), pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), longest), dtype=np.int64)
        for r, i in enumerate(rows):
            input_ids[r, : len(ids[i])] = ids[i]
            mask[r, : len(ids[i])] = 1
        (probs,) = session.run(None, {"input_ids": input_ids, "attention_mask": mask})
        if out is None:
            out = np.zeros((len(ids), probs.shape[1]), dtype=np.float32)
        out[rows] = probs
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


class ExportedModel:
    """An export folder, loaded: ``probabilities(texts)`` → (N, C) after temperature."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self.labels = [str(x) for x in self.manifest["label_names"]]
        self.task = Task.of(self.manifest)
        self.max_length = int(self.manifest["max_length"])
        self.pad_id = int(self.manifest["pad_id"])
        self.tokenizer = Tokenizer.from_file(str(self.path / TOKENIZER))
        self.tokenizer.no_padding()
        self.long_notes = self.manifest.get("long_notes") or {"mode": "truncate"}
        if self.long_notes.get("mode") == "head-tail":  # whole notes, cut below as training cut them
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(self.max_length)
        self.session = graph_session(self.path / MODEL, threads)
        self._tfidf = None  # a blend's TF-IDF model, loaded on first use and kept

    def encode(self, texts: list[str]) -> list[list[int]]:
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        if self.long_notes.get("mode") == "head-tail":
            from clinitui.data.windows import head_tail

            spec = self.long_notes
            ids = [head_tail(x, int(spec["window"]), float(spec.get("head_fraction", 0.25))) for x in ids]
        return ids

    def network_probabilities(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """The graph's softmax, rows in input order (batches sorted by length to pad less)."""
        probs = run_graph(self.session, self.encode(texts), self.pad_id, batch_size)
        return probs if len(texts) else np.zeros((0, len(self.labels)), dtype=np.float32)

    def probabilities(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """What the checkpoint predicts: the network (blended with its TF-IDF model), then temperature."""
        probs = self.network_probabilities(texts, batch_size)
        spec = self.manifest.get("ensemble")
        if spec:  # engine/tfidf/blend.py's blend; the TF-IDF model needs numpy and scikit-learn, never torch
            from clinitui.engine.tfidf.blend import blend
            from clinitui.engine.tfidf.load import load_tfidf

            if "/" in str(spec["path"]) or str(spec["path"]).startswith("."):
                raise CheckpointError(f"{self.path}: export.json names an invalid TF-IDF folder; the export was altered")
            if self._tfidf is None:
                self._tfidf = load_tfidf(self.path / str(spec["path"]), spec.get("sha256"))
            probs = blend(probs, self._tfidf.predict_proba(list(texts)), float(spec["weight"])).astype(np.float32)
        return apply_temperature(probs, self.manifest.get("temperature"))

    def decision_rule(self) -> tuple[dict, str]:
        """The threshold column(s) and sentence of :meth:`decide`'s rule (engine/inference/rows.py)."""
        op = self.operating_point()
        pos = self.manifest.get("positive_index")
        return decision_rule(self.labels, self.task, None if pos is None else int(pos),
                             threshold=op["threshold"] if op else None,
                             label_thresholds=self.manifest.get("label_thresholds"), rule=(op or {}).get("rule"))

    def operating_point(self) -> dict | None:
        """The binary operating point the export applies, or None (argmax)."""
        op = self.manifest.get("operating_point")
        if op and self.manifest.get("positive_index") is not None and len(self.labels) == 2:
            return op
        return None

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Predicted class per row: the operating threshold on the positive class if set, else argmax."""
        if self.task is Task.MULTILABEL:  # multi-hot rows at the per-label thresholds
            return (probs >= np.asarray(self.manifest["label_thresholds"], dtype=float)).astype(int)
        op, pos = self.operating_point(), self.manifest.get("positive_index")
        if op:
            return np.where(probs[:, int(pos)] >= float(op["threshold"]), int(pos), 1 - int(pos))
        return probs.argmax(axis=1)


def apply_temperature(probs: np.ndarray, temperature: float | None) -> np.ndarray:
    """softmax(log p / T), the calibration the PyTorch path applies (T = 1 or None: unchanged)."""
    if not temperature or float(temperature) == 1.0:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / float(temperature)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def predict_export(path: Path, data: Path, *, text_col: str = "text", delimiter: str | None = None,
                   encoding: str | None = None, threads: int | None = None,
                   chunk_rows: int | None = None) -> Predictions:
    """What ``predict`` streams from an export (engine/inference/rows.py ``Predictions``): the same
    columns as the PyTorch path — ``row``, ``predicted``, ``p_<label>`` ..., ``threshold`` — and the
    sentence saying how labels were chosen; a quantised export adds its agreement line."""
    from clinitui.data.stream import TextStream
    from clinitui.export.bundle import agreement_line

    model = ExportedModel(path, threads)
    texts = TextStream(data, text_col, chunk_rows=chunk_rows or CHUNK_ROWS, delimiter=delimiter, encoding=encoding)
    columns, said = model.decision_rule()

    def chunk(batch: list[str]):
        probs = model.probabilities(batch)
        return probs, model.decide(probs)

    rows = stream_rows(texts, chunk, model.labels, model.task, model.manifest.get("label_sep") or "|", columns)
    line = agreement_line(model.manifest)
    return Predictions(model.labels, said, rows, texts, [line] if line else [])
