"""The strong TF-IDF baseline as a model: fit, predict, save and load without pickle.

Recipe (the standard strong one for short clinical texts): word 1–2-grams and character
2–5-grams within word boundaries (``char_wb``), sublinear tf, min_df 3 (MIN_NOTES: the privacy rule), each block L2-normalised,
then a class-balanced logistic regression whose C is chosen on the validation split (ties go to
the smaller C, i.e. the stronger regularisation). The same recipe is the baseline printed beside
every run (engine/baseline.py), the ``tfidf`` backbone (engine/tfidf_run.py) and the TF-IDF half
of ``--ensemble tfidf`` (engine/ensemble.py).

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
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from clinitui.digest import sha256_file
from clinitui.errors import CheckpointError

FORMAT = "clinitui-tfidf"
FORMAT_VERSION = 1
ARRAYS = "model.safetensors"
META = "tfidf.json"
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
# A term enters the saved vocabulary only when it occurs in at least MIN_NOTES training notes: the rule
# of the from-scratch tokenizer (docs/privacy.md), so a name or record number found in one or two notes
# never reaches checkpoint/tfidf/tfidf.json. Never lowered, even for a tiny training split.
MIN_NOTES = 3
WORD = {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True, "min_df": MIN_NOTES}
CHAR = {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True, "min_df": MIN_NOTES}
METHOD = (f"tfidf(word 1-2 + char_wb 2-5 grams, sublinear, min_df={MIN_NOTES}) + class-balanced logistic "
          "regression, C on val")


def _vectorizer(params: dict, vocabulary: list[str] | None = None, idf: np.ndarray | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    kwargs = dict(params, ngram_range=tuple(params["ngram_range"]), dtype=np.float32)
    if vocabulary is None:
        return TfidfVectorizer(**kwargs)
    kwargs.pop("min_df")  # a fixed vocabulary ignores document frequencies
    vec = TfidfVectorizer(vocabulary={t: i for i, t in enumerate(vocabulary)}, **kwargs)
    vec.idf_ = idf.astype(np.float64)
    return vec


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TfidfModel:
    """Two fitted vectorizers + one linear layer (K × F); ``predict_proba`` is a plain softmax."""

    def __init__(self, word, char, coef: np.ndarray, intercept: np.ndarray, label_names: list[str], c: float,
                 val_f1: float | None = None) -> None:
        self.word, self.char = word, char
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float32)
        self.label_names = list(label_names)
        self.c = c
        self.val_f1 = val_f1

    # -- features and probabilities ------------------------------------------------------------
    def features(self, texts: Sequence[str]):
        import scipy.sparse as sp

        texts = list(texts)
        return sp.hstack([word_tfidf(self.word, texts), char_wb_tfidf(self.char, texts)], format="csr",
                         dtype=np.float32)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, len(self.label_names)))
        logits = self.features(texts) @ self.coef.T + self.intercept
        return _softmax(np.asarray(logits, dtype=np.float64))

    # -- fitting -------------------------------------------------------------------------------
    @classmethod
    def fit(cls, train_texts: Sequence[str], train_labels: Sequence[int], val_texts: Sequence[str],
            val_labels: Sequence[int], label_names: list[str], *, seed: int = 0,
            c_grid: Sequence[float] = C_GRID) -> "TfidfModel":
        import scipy.sparse as sp
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import f1_score

        texts = list(train_texts)
        word, char = fit_vectorizers(texts)
        x_train = sp.hstack([word_tfidf(word, texts), char_wb_tfidf(char, texts)], format="csr")
        shell = cls(word, char, np.zeros((len(label_names), x_train.shape[1])), np.zeros(len(label_names)),
                    label_names, 1.0)
        x_val = shell.features(val_texts) if len(val_texts) else None
        y = np.asarray(train_labels)
        best = None
        for c in c_grid:  # ascending: a tie keeps the smaller C (stronger regularisation)
            lr = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
            lr.fit(x_train, y)
            model = cls._from_sklearn(word, char, lr, label_names, c)
            if x_val is None:
                return model
            probs = _softmax(np.asarray(x_val @ model.coef.T + model.intercept, dtype=np.float64))
            f1 = float(f1_score(val_labels, probs.argmax(1), average="macro", labels=list(range(len(label_names))),
                                zero_division=0))
            if best is None or f1 > best.val_f1 + 1e-12:
                model.val_f1 = f1
                best = model
        return best

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
        if getattr(self, "task", None):  # "multilabel": engine/tfidf_ovr.py (one sigmoid per label)
            meta["task"] = self.task
        (directory / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        out = {}
        for name in (ARRAYS, META):
            os.chmod(directory / name, 0o600)
            out[name] = sha256_file(directory / name)
        return out

    @classmethod
    def load(cls, directory: Path, sha256: dict[str, str] | None) -> "TfidfModel":
        """The model saved in ``directory``; every file's SHA-256 must match ``sha256``."""
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
            if meta.get("task") == "multilabel":
                from clinitui.engine.tfidf_ovr import OvrTfidfModel as cls
            word = _vectorizer(_clean(meta["word"]), meta["word"]["vocabulary"], arrays["idf_word"])
            char = _vectorizer(_clean(meta["char"]), meta["char"]["vocabulary"], arrays["idf_char"])
            model = cls(word, char, arrays["coef"], arrays["intercept"], meta["label_names"], float(meta["C"]),
                        meta.get("val_f1_macro"))
            if model.coef.shape != (len(model.label_names), len(word.idf_) + len(char.idf_)):
                raise ValueError("shape")
        except Exception:
            raise CheckpointError(f"{directory}: the TF-IDF model cannot be read; the checkpoint is damaged") from None
        return model


def fit_vectorizers(texts: list[str]):
    """(word, char) vectorizers of the recipe; DataError when no term reaches MIN_NOTES notes."""
    from clinitui.errors import DataError

    try:
        return fit_vectorizer(WORD, texts), fit_vectorizer(CHAR, texts)
    except ValueError:
        raise DataError(f"the training split is too small for the TF-IDF model: no word or character n-gram occurs "
                        f"in {MIN_NOTES} or more of its {len(texts)} notes (the privacy rule of docs/privacy.md); "
                        "add notes, or train without it (--ensemble none --set train.baseline=false)") from None


def fit_vectorizer(params: dict, texts: list[str]):
    """A TfidfVectorizer fitted on ``texts`` as scikit-learn's ``fit`` would (same vocabulary, same idf).

    Document frequencies come from the same per-word shortcut as the transforms below, so the
    character block is fitted several times faster; the returned vectorizer has a fixed
    vocabulary and idf, exactly like a loaded one. ValueError when no term reaches min_df.
    """
    import re
    from collections import Counter

    lo, hi = params["ngram_range"]
    df: Counter = Counter()
    if params["analyzer"] == "char_wb":
        cache: dict[str, frozenset] = {}
        for text in texts:
            grams: set = set()
            for word in text.lower().split():
                got = cache.get(word)
                if got is None:
                    got = cache[word] = frozenset(_word_ngrams(word, lo, hi))
                grams |= got
            df.update(grams)
    else:
        find = re.compile(r"(?u)\b\w\w+\b").findall
        for text in texts:
            tokens = find(text.lower())
            grams = set(tokens) if lo == 1 else set()
            for n in range(max(lo, 2), hi + 1):
                grams.update(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
            df.update(grams)
    terms = sorted(t for t, c in df.items() if c >= params["min_df"])
    if not terms:
        raise ValueError("After pruning, no terms remain")
    counts = np.array([df[t] for t in terms], dtype=np.float64)
    idf = np.log((1.0 + len(texts)) / (1.0 + counts)) + 1.0  # smooth_idf, as scikit-learn
    return _vectorizer(params, terms, idf)


def _word_ngrams(word: str, lo: int, hi: int) -> list[str]:
    w = " " + word + " "
    out = []
    for n in range(lo, hi + 1):
        out.extend(w[offset:offset + n] for offset in range(max(len(w) - n, 0) + 1))
        if len(w) <= n:
            break
    return out


def char_wb_tfidf(vec, texts: list[str]):
    """``vec.transform(texts)`` for a fitted ``char_wb`` TfidfVectorizer, several times faster.

    scikit-learn builds every character n-gram of every word of every note in Python. A
    ``char_wb`` n-gram never crosses a word boundary, so a note's counts are the sum of its
    words' counts: each distinct word is analysed once per call and its vocabulary indices reused.
    The rest is TfidfTransformer's arithmetic (sublinear tf, idf, L2 norm); the result equals
    scikit-learn's to float32 rounding (tests/test_accuracy.py), and it is the only path used to
    predict, so a saved and a loaded model agree exactly. Keeps the ensemble's cost at predict
    time small next to the network's.
    """
    import scipy.sparse as sp

    vocab = _vocab(vec)
    lo, hi = vec.ngram_range
    word_ids: dict[str, int] = {}
    grams: list[list[int]] = []  # per distinct word: vocabulary indices of its n-grams
    indptr, indices = [0], []
    for text in texts:
        for word in text.lower().split():
            j = word_ids.get(word)
            if j is None:
                j = word_ids[word] = len(grams)
                grams.append(_word_ngram_ids(word, vocab, lo, hi))
            indices.append(j)
        indptr.append(len(indices))
    # notes × distinct words, times distinct words × n-grams: the counts, in compiled code
    docs = _counts(indices, indptr, len(grams))
    g_ptr = np.zeros(len(grams) + 1, dtype=np.int64)
    np.cumsum([len(g) for g in grams], out=g_ptr[1:])
    g_idx = np.fromiter((i for g in grams for i in g), dtype=np.int64, count=int(g_ptr[-1]))
    words = sp.csr_matrix((np.ones(len(g_idx)), g_idx, g_ptr), shape=(len(grams), len(vec.idf_)))
    return _weigh(vec, (docs @ words).tocsr())


def word_tfidf(vec, texts: list[str]):
    """``vec.transform(texts)`` for a fitted word 1–2-gram TfidfVectorizer (same tokens, fewer steps)."""
    import re

    vocab = _vocab(vec)
    find = re.compile(vec.token_pattern).findall
    lo, hi = vec.ngram_range
    get = vocab.get
    indptr, indices = [0], []
    for text in texts:
        tokens = find(text.lower())
        for n in range(lo, hi + 1):
            if n == 1:
                grams = tokens
            elif n == 2:  # the recipe's case, without slicing
                grams = [a + " " + b for a, b in zip(tokens, tokens[1:])]
            else:
                grams = [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
            indices += [i for i in map(get, grams) if i is not None]
        indptr.append(len(indices))
    return _tfidf(vec, indices, indptr)


def _vocab(vec) -> dict:
    return vec.vocabulary_ if hasattr(vec, "vocabulary_") else vec.vocabulary


def _counts(indices: list[int], indptr: list[int], width: int):
    import scipy.sparse as sp

    x = sp.csr_matrix((np.ones(len(indices), dtype=np.float64), np.asarray(indices, dtype=np.int64),
                       np.asarray(indptr, dtype=np.int64)), shape=(len(indptr) - 1, width))
    x.sum_duplicates()
    return x


def _tfidf(vec, indices: list[int], indptr: list[int]):
    """Counts (CSR from per-note vocabulary indices) → sublinear tf × idf, rows L2-normalised, float32."""
    return _weigh(vec, _counts(indices, indptr, len(vec.idf_)))


def _weigh(vec, x):
    """Sublinear tf × idf, rows L2-normalised, on the CSR data in place (no sorting, no diagonal products).

    ``x`` holds counts with no duplicate entries (``_counts`` sums them; a sparse product has none);
    column order within a row does not matter to anything downstream.
    """
    x.eliminate_zeros()
    data = x.data
    if vec.sublinear_tf:
        np.log(data, data)
        data += 1.0
    data *= np.asarray(vec.idf_, dtype=np.float64)[x.indices]
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=x.shape[0]))
    norms[norms == 0.0] = 1.0
    data /= norms[rows]
    return x.astype(np.float32)


def _word_ngram_ids(word: str, vocab: dict, lo: int, hi: int) -> list[int]:
    """Vocabulary indices of a word's char_wb n-grams (scikit-learn's ``_char_wb_ngrams``, per word)."""
    w = " " + word + " "
    out = []
    for n in range(lo, hi + 1):
        for offset in range(max(len(w) - n, 0) + 1):
            index = vocab.get(w[offset:offset + n])
            if index is not None:
                out.append(index)
        if len(w) <= n:  # a short word counts once, whatever n
            break
    return out


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


def fit_on_dataset(dataset, seed: int = 0) -> tuple[TfidfModel, float]:
    """(model fitted on the dataset's train split with C chosen on its val split, seconds)."""
    start = time.perf_counter()
    if getattr(dataset, "multilabel", False):  # one-vs-rest on the multi-hot labels (engine/tfidf_ovr.py)
        from clinitui.engine.tfidf_ovr import OvrTfidfModel

        model = OvrTfidfModel.fit(dataset.train.texts, dataset.train.labels, dataset.val.texts, dataset.val.labels,
                                  dataset.label_names, seed=seed)
        return model, time.perf_counter() - start
    model = TfidfModel.fit(dataset.train.texts, dataset.train.labels, dataset.val.texts, dataset.val.labels,
                           dataset.label_names, seed=seed)
    return model, time.perf_counter() - start
