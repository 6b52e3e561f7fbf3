"""TF-IDF features computed by clinitui: scikit-learn's values, several times faster.

Used to fit (document frequencies) and, above all, to predict: the TF-IDF half of the default
ensemble runs inside every ``predict``, so its cost is measured against the network's
(docs/accuracy.md, "Predict time of the ensemble"). Three shortcuts, each exact:

* a ``char_wb`` n-gram never crosses a word boundary, so a note's counts are the sum of its
  words' counts: each distinct word is analysed once per call, and (notes × words) · (words ×
  n-grams) is one sparse product in compiled code;
* a word bigram in the vocabulary is a pair of token ids: tokens are looked up once, and the
  bigrams of every note are found together with one ``searchsorted`` over the vocabulary's pairs;
* counts are built from (note, column) keys with one ``np.unique``; weighting (sublinear tf, idf,
  row L2 norm) is done in place on the CSR data, and nothing is sorted per row.

The result equals ``TfidfVectorizer.transform`` to float32 rounding (tests/test_accuracy.py), and
it is the only path used to predict, so a saved and a loaded model agree exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

import numpy as np


WORD_TOKEN = r"(?u)\b\w\w+\b"  # scikit-learn's default token pattern: what the word block counts as a word


def make_vectorizer(params: dict, vocabulary: list[str] | None = None, idf: np.ndarray | None = None):
    """A TfidfVectorizer with the recipe's ``params``; with a vocabulary and idf, a fitted one."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    kwargs = dict(params, ngram_range=tuple(params["ngram_range"]), dtype=np.float32)
    if vocabulary is None:
        return TfidfVectorizer(**kwargs)
    kwargs.pop("min_df")  # a fixed vocabulary ignores document frequencies
    vec = TfidfVectorizer(vocabulary={t: i for i, t in enumerate(vocabulary)}, **kwargs)
    vec.idf_ = idf.astype(np.float64)
    return vec


def fit_vectorizer(params: dict, texts: list[str]):
    """A TfidfVectorizer fitted on ``texts`` as scikit-learn's ``fit`` would (same vocabulary, same idf).

    Document frequencies come from the same per-word shortcut as the transforms below, so the
    character block is fitted several times faster; the returned vectorizer has a fixed
    vocabulary and idf, exactly like a loaded one. ValueError when no term reaches min_df.
    """
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
        find = re.compile(WORD_TOKEN).findall
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
    return make_vectorizer(params, terms, idf)


def _word_ngrams(word: str, lo: int, hi: int) -> list[str]:
    w = " " + word + " "
    out = []
    for n in range(lo, hi + 1):
        out.extend(w[offset:offset + n] for offset in range(max(len(w) - n, 0) + 1))
        if len(w) <= n:  # a short word counts once, whatever n (scikit-learn's _char_wb_ngrams)
            break
    return out


class Pieces:
    """The notes cut at whitespace once, lower-cased: what both blocks start from.

    ``distinct`` maps each distinct piece to its id (first-seen order), ``ids`` is every piece's
    id in note order and ``rows`` the note each piece comes from. A word token (``\\w\\w+``) never
    spans whitespace, so a note's tokens are its pieces' tokens in order, and a ``char_wb`` n-gram
    lives inside one piece: both blocks work per distinct piece.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        every: list[str] = []
        lengths = []
        for text in texts:
            pieces = text.lower().split()
            every += pieces
            lengths.append(len(pieces))
        self.n = len(lengths)
        self.distinct = {w: i for i, w in enumerate(dict.fromkeys(every))}
        self.ids = np.fromiter(map(self.distinct.__getitem__, every), dtype=np.int64, count=len(every))
        self.rows = np.repeat(np.arange(self.n, dtype=np.int64), np.asarray(lengths, dtype=np.int64))


def char_wb_tfidf(vec, texts: Sequence[str], pieces: Pieces | None = None):
    """``vec.transform(texts)`` for a fitted ``char_wb`` TfidfVectorizer."""
    return _weigh(vec, char_wb_counts(vec, pieces or Pieces(texts)))


def word_tfidf(vec, texts: Sequence[str], pieces: Pieces | None = None):
    """``vec.transform(texts)`` for a fitted word 1–2-gram TfidfVectorizer (the recipe's; lower-cased)."""
    return _weigh(vec, word_counts(vec, pieces or Pieces(texts)))


def stack_features(word, char, texts: Sequence[str]):
    """The recipe's feature matrix: word block then character block (one pass over the text)."""
    import scipy.sparse as sp

    pieces = Pieces(texts)
    return sp.hstack([word_tfidf(word, texts, pieces), char_wb_tfidf(char, texts, pieces)], format="csr",
                     dtype=np.float32)


def tfidf_logits(vec, counts, coef_t: np.ndarray) -> np.ndarray:
    """``weigh(counts) @ coef_t`` with the row norms applied to the K logits, not to every entry."""
    x, norms = _tf_idf(vec, counts)
    return np.asarray(x @ coef_t, dtype=np.float64) / norms[:, None]


def char_wb_counts(vec, pieces: Pieces):
    """Notes × vocabulary n-gram counts: (notes × pieces) · (pieces × n-grams), one sparse product."""
    import scipy.sparse as sp

    lo, hi = vec.ngram_range
    get = _vocab(vec).get
    grams = [[i for i in map(get, _word_ngrams(w, lo, hi)) if i is not None] for w in pieces.distinct]
    docs = _counts(pieces.rows, pieces.ids, pieces.n, len(grams))
    g_ptr, g_idx = _flatten(grams)
    words = sp.csr_matrix((np.ones(len(g_idx)), g_idx, g_ptr), shape=(len(grams), len(vec.idf_)))
    return docs @ words


def word_counts(vec, pieces: Pieces):
    """Notes × vocabulary word 1–2-gram counts, from the token ids of the distinct pieces."""
    lo, hi = vec.ngram_range
    table = _pairs(vec)
    find = re.compile(vec.token_pattern).findall
    get = table["ids"].get
    p_ptr, p_tok = _flatten([[get(t, -1) for t in find(w)] for w in pieces.distinct])  # -1: in no term
    per = np.diff(p_ptr)[pieces.ids]  # tokens of every piece, in note order
    starts = p_ptr[:-1][pieces.ids]
    ids = p_tok[np.repeat(starts - (np.cumsum(per) - per), per) + np.arange(int(per.sum()))]
    note = np.repeat(pieces.rows, per)
    rows, cols = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    if lo == 1:
        known = ids >= 0
        col = table["unigram"][ids[known]]
        rows.append(note[known][col >= 0])
        cols.append(col[col >= 0])
    if hi == 2 and len(ids) > 1 and len(table["keys"]):
        a, b = ids[:-1], ids[1:]
        ok = (note[:-1] == note[1:]) & (a >= 0) & (b >= 0)
        key = a[ok] * table["n"] + b[ok]
        at = np.minimum(np.searchsorted(table["keys"], key), len(table["keys"]) - 1)
        hit = table["keys"][at] == key
        rows.append(note[:-1][ok][hit])
        cols.append(table["cols"][at[hit]])
    return _counts(np.concatenate(rows), np.concatenate(cols), pieces.n, len(vec.idf_))


def _flatten(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, values) of a list of int lists, as CSR keeps them."""
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=ptr[1:])
    return ptr, np.fromiter((i for x in lists for i in x), dtype=np.int64, count=int(ptr[-1]))


def _pairs(vec) -> dict:
    """The vocabulary as token ids: unigram column per token, and each bigram as a (token, token) key.

    Built once per vectorizer (cached on it). Tokens that only occur inside bigrams get ids too, so
    the lookup is exact whatever min_df kept.
    """
    table = getattr(vec, "_clinitui_pairs", None)
    if table is not None:
        return table
    ids: dict[str, int] = {}
    unigram: list[int] = []
    pairs: list[tuple[str, str, int]] = []

    def token(t: str) -> int:
        got = ids.get(t)
        if got is None:
            got = ids[t] = len(unigram)
            unigram.append(-1)
        return got

    for term, col in _vocab(vec).items():
        parts = term.split(" ")
        if len(parts) == 1:
            unigram[token(term)] = col
        else:
            pairs.append((parts[0], parts[1], col))
    for a, b, _ in pairs:
        token(a), token(b)
    n = max(len(unigram), 1)
    keys = np.array([ids[a] * n + ids[b] for a, b, _ in pairs], dtype=np.int64)
    cols = np.array([c for _, _, c in pairs], dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    table = {"ids": ids, "unigram": np.asarray(unigram, dtype=np.int64), "n": n, "keys": keys[order],
             "cols": cols[order]}
    vec._clinitui_pairs = table
    return table


def _vocab(vec) -> dict:
    return vec.vocabulary_ if hasattr(vec, "vocabulary_") else vec.vocabulary


def _counts(rows: np.ndarray, cols: np.ndarray, n_rows: int, width: int):
    """CSR of how often each (row, col) pair occurs; indices sorted, no duplicates."""
    import scipy.sparse as sp

    stride = max(width, 1)
    keys, counts = np.unique(rows * stride + cols, return_counts=True)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // stride, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((counts.astype(np.float64), keys % stride, indptr), shape=(n_rows, width))


def _tf_idf(vec, x):
    """Sublinear tf × idf on the CSR data in place, and each row's L2 norm (1 for an empty row)."""
    x.eliminate_zeros()
    data = x.data
    if vec.sublinear_tf:
        np.log(data, data)
        data += 1.0
    data *= np.asarray(vec.idf_, dtype=np.float64)[x.indices]
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=x.shape[0]))
    norms[norms == 0.0] = 1.0
    return x, norms


def _weigh(vec, x):
    """Sublinear tf × idf, rows L2-normalised (float32), without re-sorting anything.

    ``x`` holds counts with no duplicate entries (``_counts`` or a sparse product); column order
    within a row does not matter to anything downstream.
    """
    import scipy.sparse as sp

    x, norms = _tf_idf(vec, x)
    data = x.data / np.repeat(norms, np.diff(x.indptr))
    return sp.csr_matrix((data.astype(np.float32), x.indices, x.indptr), shape=x.shape)
