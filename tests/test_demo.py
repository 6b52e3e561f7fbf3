"""The built-in synthetic demo corpus (clinitui.data.demo)."""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys

import pytest

from clinitui.data.demo import generate_notes, write_demo_csv


@pytest.fixture(scope="module")
def corpus():
    return generate_notes()  # the default: n=5400, seed=0


def test_defaults_and_n_respected(corpus):
    texts, labels = corpus
    assert len(texts) == len(labels) == 5400
    for n in (0, 1, 7, 250):
        t, y = generate_notes(n, seed=3)
        assert len(t) == len(y) == n
    assert set(labels) == {0, 1}
    assert all(isinstance(t, str) for t in texts) and all(type(y) is int for y in labels)


def test_negative_n_rejected():
    with pytest.raises(ValueError):
        generate_notes(-1)


def test_deterministic_same_seed():
    assert generate_notes(1500, seed=0) == generate_notes(1500, seed=0)
    assert generate_notes(300, seed=7) == generate_notes(300, seed=7)


def test_different_seed_differs():
    a, _ = generate_notes(200, seed=0)
    b, _ = generate_notes(200, seed=1)
    assert a != b
    assert len(set(a) & set(b)) == 0


def test_deterministic_across_processes():
    """No hash() or set-order dependence: a fresh interpreter (other hash seed) gives the same notes."""
    code = "from clinitui.data.demo import generate_notes; t, y = generate_notes(50, 11); print(repr((t, y)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": os.pathsep.join(sys.path)}).stdout
    assert out.strip() == repr(generate_notes(50, 11))


def test_class_balance(corpus):
    _, labels = corpus
    rate = sum(labels) / len(labels)
    assert 0.32 <= rate <= 0.40


def test_length_profile(corpus):
    texts, _ = corpus
    counts = [len(t.split()) for t in texts]
    total = sum(counts)
    assert abs(total - 580_000) <= 58_000, total
    assert 80 <= statistics.median(counts) <= 120
    long_share = sum(c > 256 for c in counts) / len(counts)
    assert 0.02 <= long_share <= 0.10, long_share
    assert max(counts) <= 500


def test_single_line_non_empty_and_varied(corpus):
    texts, _ = corpus
    for t in texts:
        assert t.strip() == t and t
        assert "\n" not in t and "\r" not in t
        assert "{" not in t and "}" not in t  # every template slot was filled
    assert len(set(texts)) >= 0.99 * len(texts)


def test_content_looks_like_picu_notes(corpus):
    texts, labels = corpus
    joined = " ".join(texts[:1000])
    for term in ("FC", "SpO2", "BNP", "FEVG", "ETT", "milrinone", "furosémide", "hépatomégalie",
                 "Nourrisson", "bronchiolite", "Pas de signe d'insuffisance cardiaque", "à recontrôler"):
        assert term in joined, term
    # Not trivially separable: explicit failure vocabulary and negations appear in both classes.
    neg = [t for t, y in zip(texts, labels) if y == 0]
    pos = [t for t, y in zip(texts, labels) if y == 1]
    assert any("FEVG" in t for t in neg) and any("milrinone" in t.lower() for t in neg)
    assert any("Pas de signe" in t or "Absence" in t or "Pas d'" in t for t in pos)
    no_keyword = [t for t in pos if "insuffisance cardiaque" not in t.lower() and "défaillance" not in t.lower()]
    assert len(no_keyword) > 0.3 * len(pos)


def test_write_demo_csv_round_trip(tmp_path):
    path = tmp_path / "demo.csv"
    write_demo_csv(path, n=300, seed=4)
    texts, labels = generate_notes(300, seed=4)
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["text", "label"]
        rows = list(reader)
    assert [r["text"] for r in rows] == texts
    assert [int(r["label"]) for r in rows] == labels
    assert path.read_bytes().decode("utf-8").splitlines()[0] == "text,label"


def test_demo_module_imports_no_heavy_deps():
    code = ("import sys; import clinitui.data.demo; "
            "bad = [m for m in ('numpy', 'torch', 'sklearn', 'transformers') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout
    assert out.strip() == "[]"


def test_tfidf_logreg_baseline_is_good_but_not_perfect():
    """Learnable but not trivially separable.

    n=3000 keeps this test at about 2 s; the default 5,400-note corpus gives about 0.85.
    """
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    texts, labels = generate_notes(3000, seed=0)
    x_tr, x_te, y_tr, y_te = train_test_split(texts, labels, test_size=0.2, stratify=labels, random_state=0)
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    a_tr, a_te = vec.fit_transform(x_tr), vec.transform(x_te)
    lr = LogisticRegression(solver="liblinear").fit(a_tr, y_tr)
    f1 = f1_score(y_te, lr.predict(a_te), average="macro")
    assert 0.75 <= f1 <= 0.95, f1
    # A shallow keyword-rule classifier must not solve it either.
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(a_tr, y_tr)
    assert f1_score(y_te, tree.predict(a_te), average="macro") < 0.90
