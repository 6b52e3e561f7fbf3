"""The strong TF-IDF baseline as a model: fit, predict, save and load without pickle.

Recipe (the standard strong one for short clinical texts): word 1–2-grams and character
2–5-grams within word boundaries (``char_wb``), sublinear tf, min_df 3 (MIN_NOTES: the privacy rule), each block L2-normalised,
then a class-balanced logistic regression whose C is chosen on the validation split: C = 1 unless
another C of the grid beats it there beyond noise (ties among the others go to the smaller C). The same recipe is the baseline printed beside
every run (engine/tfidf/baseline.py), the ``tfidf`` backbone (engine/recipes/tfidf.py) and the TF-IDF half
of ``--ensemble tfidf`` (engine/tfidf/blend.py).

Saved as two files, neither of which can execute code when read:

* ``tfidf.json`` — the recipe, the vocabularies (term lists in column order), label names, C;
* ``model.safetensors`` — numpy arrays ``idf_word``, ``idf_char``, ``coef`` (K × F) and
  ``intercept`` (K), float32.

Loading rebuilds ``TfidfVectorizer``s with the saved vocabulary and idf, so a loaded model
gives the same probabilities as the fitted one (float32 arrays are used from the moment of the
fit, so they are bit-identical). Each file's SHA-256 is recorded by the caller (config.json) and
checked on load: a changed file is refused with a CheckpointError.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from clinitui.digest import sha256_file
from clinitui.engine.tfidf.features import (WORD_TOKEN, Pieces, char_wb_counts, fit_vectorizer, make_vectorizer,
                                            stack_features, tfidf_logits, word_counts)
from clinitui.errors import CheckpointError
from clinitui.kinds import Task

FORMAT = "clinitui-tfidf"
FORMAT_VERSION = 1
ARRAYS = "model.safetensors"
META = "tfidf.json"
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
DEFAULT_C = 1.0  # kept unless another C of the grid beats it on validation for real (_prefer_default_c)
# A term enters the saved vocabulary only when it occurs in at least MIN_NOTES training notes: the rule
# of the from-scratch tokenizer (docs/privacy.md), so a name or record number found in one or two notes
# never reaches checkpoint/tfidf/tfidf.json. Never lowered, even for a tiny training split.
MIN_NOTES = 3
WORD = {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True, "min_df": MIN_NOTES}
CHAR = {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True, "min_df": MIN_NOTES}
METHOD = (f"tfidf(word 1-2 + char_wb 2-5 grams, sublinear, min_df={MIN_NOTES}) + class-balanced logistic "
          "regression, C on val")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TfidfModel:
    """Two fitted vectorizers + one linear layer (K × F); ``predict_proba`` is a plain softmax."""

    task = Task.MULTICLASS  # one label per note; the one-vs-rest model (engine/tfidf/ovr.py) is MULTILABEL

    def __init__(self, word, char, coef: np.ndarray, intercept: np.ndarray, label_names: list[str], c: float,
                 val_f1: float | None = None) -> None:
        self.word, self.char = word, char
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float32)
        self.label_names = list(label_names)
        self.c = c
        self.val_f1 = val_f1
        self._blocks: tuple[np.ndarray, np.ndarray] | None = None  # coef.T split into the word and char blocks

    # -- features and probabilities ------------------------------------------------------------
    def features(self, texts: Sequence[str]):
        return stack_features(self.word, self.char, texts)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """features(texts) @ coef.T + intercept, one block at a time (no stacking of the two blocks)."""
        if self._blocks is None:
            split = len(self.word.idf_)
            self._blocks = (np.ascontiguousarray(self.coef[:, :split].T), np.ascontiguousarray(self.coef[:, split:].T))
        pieces = Pieces(texts)  # one pass over the text for both blocks
        out = tfidf_logits(self.word, word_counts(self.word, pieces), self._blocks[0])
        out += tfidf_logits(self.char, char_wb_counts(self.char, pieces), self._blocks[1])
        return out + self.intercept

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, len(self.label_names)))
        return _softmax(self.logits(texts))

    # -- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, train_texts: Sequence[str], train_labels: Sequence[int], val_texts: Sequence[str],
            val_labels: Sequence[int], label_names: list[str], *, seed: int = 0,
            c_grid: Sequence[float] = C_GRID) -> "TfidfModel":
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import f1_score

        texts = list(train_texts)
        word, char = fit_vectorizers(texts)
        x_train = stack_features(word, char, texts)
        shell = cls(word, char, np.zeros((len(label_names), x_train.shape[1])), np.zeros(len(label_names)),
                    label_names, 1.0)
        x_val = shell.features(val_texts) if len(val_texts) else None
        y = np.asarray(train_labels)
        best, tried = None, {}
        for c in c_grid:  # ascending: a tie keeps the smaller C (stronger regularisation)
            lr = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
            lr.fit(x_train, y)
            model = cls._from_sklearn(word, char, lr, label_names, c)
            if x_val is None:
                return model
            pred = _softmax(np.asarray(x_val @ model.coef.T + model.intercept, dtype=np.float64)).argmax(1)
            model.val_f1 = float(f1_score(val_labels, pred, average="macro", labels=list(range(len(label_names))),
                                          zero_division=0))
            tried[c] = (model, pred)
            if best is None or model.val_f1 > best.val_f1 + 1e-12:
                best = model
        return _prefer_default_c(best, tried, val_labels, len(label_names))

    @classmethod
    def _from_sklearn(cls, word, char, lr, label_names: list[str], c: float) -> "TfidfModel":
        k, f = len(label_names), lr.coef_.shape[1]
        coef = np.zeros((k, f), dtype=np.float32)
        intercept = np.full(k, -30.0, dtype=np.float32)  # a class absent from train is never predicted
        classes = [int(x) for x in lr.classes_]
        if len(classes) == 2 and lr.coef_.shape[0] == 1:  # binary: softmax([0, z]) == [1 - sigmoid(z), sigmoid(z)]
            coef[classes[0]] = 0.0
            intercept[classes[0]] = 0.0
            coef[classes[1]] = lr.coef_[0]
            intercept[classes[1]] = lr.intercept_[0]
        else:
            for row, cls_index in enumerate(classes):
                coef[cls_index] = lr.coef_[row]
                intercept[cls_index] = lr.intercept_[row]
        return cls(word, char, coef, intercept, label_names, c)

    # -- saving and loading --------------------------------------------------------------------
    def save(self, directory: Path) -> dict[str, str]:
        """Write ``tfidf.json`` + ``model.safetensors`` into ``directory``; returns {file: sha256}."""
        from safetensors.numpy import save_file

        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        arrays = {"idf_word": self.word.idf_.astype(np.float64), "idf_char": self.char.idf_.astype(np.float64),
                  "coef": self.coef, "intercept": self.intercept}
        save_file(arrays, str(directory / ARRAYS))
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "method": METHOD,
            "word": {**_params(self.word), "vocabulary": _terms(self.word)},
            "char": {**_params(self.char), "vocabulary": _terms(self.char)},
            "label_names": self.label_names, "C": self.c, "val_f1_macro": self.val_f1,
        }
        if self.task is Task.MULTILABEL:  # engine/tfidf/ovr.py (one sigmoid per label); absent: single-label
            meta["task"] = self.task.value
        (directory / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        out = {}
        for name in (ARRAYS, META):
            os.chmod(directory / name, 0o600)
            out[name] = sha256_file(directory / name)
        return out

    @classmethod
    def load(cls, directory: Path, sha256: dict[str, str] | None) -> "TfidfModel":
        """The model saved in ``directory`` as this class; every file's SHA-256 must match ``sha256``.

        Which class a folder holds (single-label or one-vs-rest) is read by engine/tfidf/load.py.
        """
        return cls.from_saved(directory, *read_saved(directory, sha256))

    @classmethod
    def from_saved(cls, directory: Path, meta: dict, arrays: dict) -> "TfidfModel":
        try:
            word = make_vectorizer(_clean(meta["word"]), meta["word"]["vocabulary"], arrays["idf_word"])
            char = make_vectorizer(_clean(meta["char"]), meta["char"]["vocabulary"], arrays["idf_char"])
            model = cls(word, char, arrays["coef"], arrays["intercept"], meta["label_names"], float(meta["C"]),
                        meta.get("val_f1_macro"))
            if model.coef.shape != (len(model.label_names), len(word.idf_) + len(char.idf_)):
                raise ValueError("shape")
        except Exception:
            raise CheckpointError(f"{directory}: the TF-IDF model cannot be read; the checkpoint is damaged") from None
        return model


def read_saved(directory: Path, sha256: dict[str, str] | None) -> tuple[dict, dict]:
    """(meta, arrays) of a saved TF-IDF model, each file checked against ``sha256`` first."""
    from safetensors.numpy import load_file

    directory = Path(directory)
    for name in (ARRAYS, META):
        file = directory / name
        if not file.is_file():
            raise CheckpointError(f"{file}: missing; the TF-IDF model of this checkpoint is incomplete")
        if not sha256 or sha256.get(name) != sha256_file(file):
            raise CheckpointError(f"{file}: checksum mismatch; the TF-IDF model was modified or damaged")
    try:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
        arrays = load_file(str(directory / ARRAYS))
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError("format")
    except Exception:
        raise CheckpointError(f"{directory}: the TF-IDF model cannot be read; the checkpoint is damaged") from None
    return meta, arrays


def _prefer_default_c(best: TfidfModel, tried: dict, val_labels, n_classes: int) -> TfidfModel:
    """The grid's best C only when it beats C = 1 (scikit-learn's default, the standard recipe's) on validation
    for real (stats.real_gain); otherwise C = 1. Another C winning by a few notes is chance, and C = 1
    scored higher on test in that case on the shared sets (docs/accuracy.md, "TF-IDF C")."""
    from clinitui.engine.evaluate.stats import paired_gain, real_gain

    if DEFAULT_C not in tried or best.c == DEFAULT_C:
        return best
    default, pred = tried[DEFAULT_C]
    return best if real_gain(*paired_gain(np.asarray(val_labels), tried[best.c][1], pred, n_classes)) else default


def fit_vectorizers(texts: list[str]):
    """(word, char) vectorizers of the recipe; DataError when no term reaches MIN_NOTES notes."""
    from clinitui.errors import DataError

    try:
        return fit_vectorizer(WORD, texts), fit_vectorizer(CHAR, texts)
    except ValueError:
        raise DataError(f"the training split is too small for the TF-IDF model: no word or character n-gram occurs "
                        f"in {MIN_NOTES} or more of its {len(texts)} notes (the privacy rule of docs/privacy.md); "
                        "add notes, or train without it (--ensemble none --set train.baseline=false)") from None


def unusable_reason(texts: Sequence[str]) -> str | None:
    """Why the recipe could not be fitted on these training notes, or None when it can.

    The word block needs a token (``\\w\\w+``: two or more letters or digits) in MIN_NOTES notes;
    such a token's character n-grams recur as often, so the character block is then non-empty too.
    The scan stops at the first token that recurs enough: on ordinary notes, after a few of them.
    """
    find = re.compile(WORD_TOKEN).findall
    seen: Counter = Counter()
    for text in texts:
        for token in set(find(text.lower())):
            seen[token] += 1
            if seen[token] >= MIN_NOTES:
                return None
    letters = "" if any(ch.isalpha() for text in texts for ch in text) else \
        "the text holds no letter at all (only numbers, signs or blanks): "
    return (f"{letters}no word of two or more letters or digits occurs in {MIN_NOTES} or more of the "
            f"{len(texts)} training notes (the privacy rule of docs/privacy.md)")


def _params(vec) -> dict:
    return {"analyzer": vec.analyzer, "ngram_range": list(vec.ngram_range), "sublinear_tf": vec.sublinear_tf,
            "min_df": vec.min_df}


def _clean(section: dict) -> dict:
    allowed = {"analyzer": ("word", "char_wb"), "sublinear_tf": (True, False)}
    params = {k: section[k] for k in ("analyzer", "ngram_range", "sublinear_tf", "min_df")}
    for key, values in allowed.items():
        if params[key] not in values:
            raise ValueError(key)
    return params


def _terms(vec) -> list[str]:
    terms = [""] * len(vec.vocabulary_)
    for term, index in vec.vocabulary_.items():
        terms[index] = term
    return terms
