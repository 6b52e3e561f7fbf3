"""The TF-IDF model for multi-label tasks: one-vs-rest logistic regressions on the same features.

Same recipe as engine/tfidf/model.py (word 1–2-grams + char_wb 2–5-grams, sublinear tf, min_df 3, engine/tfidf.MIN_NOTES),
then one class-balanced binary logistic regression per label; ``predict_proba`` gives one sigmoid
per label (rows do not sum to 1). One C for all labels is chosen on validation by micro-F1, each
label at its own F1-best threshold there (the thresholding every multi-label checkpoint uses,
engine/evaluate/multilabel.py). Saved and loaded exactly like the single-label model, with ``"task":
"multilabel"`` in ``tfidf.json``; a label never positive in train gets a zero row and a −30
intercept (never predicted).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from clinitui.engine.tfidf.model import C_GRID, TfidfModel, fit_vectorizers
from clinitui.engine.tfidf.features import stack_features
from clinitui.kinds import Task

METHOD = ("tfidf(word 1-2 + char_wb 2-5 grams, sublinear, min_df=3) + one-vs-rest class-balanced logistic "
          "regression, C on val micro-F1, per-label thresholds on val")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


class OvrTfidfModel(TfidfModel):
    task = Task.MULTILABEL

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, len(self.label_names)))
        return _sigmoid(self.logits(texts))

    @classmethod
    def fit(cls, train_texts: Sequence[str], train_labels, val_texts: Sequence[str], val_labels,
            label_names: list[str], *, seed: int = 0, c_grid: Sequence[float] = C_GRID) -> "OvrTfidfModel":
        from sklearn.linear_model import LogisticRegression

        from clinitui.engine.evaluate.multilabel import choose_thresholds, multilabel_metrics

        texts = list(train_texts)
        word, char = fit_vectorizers(texts)
        x_train = stack_features(word, char, texts)
        y = np.asarray(train_labels, dtype=int).reshape(len(texts), len(label_names))
        k = len(label_names)
        shell = cls(word, char, np.zeros((k, x_train.shape[1])), np.zeros(k), label_names, 1.0)
        x_val = shell.features(val_texts) if len(val_texts) else None
        best = None
        for c in c_grid:  # ascending: a tie keeps the smaller C (stronger regularisation)
            coef = np.zeros((k, x_train.shape[1]), dtype=np.float32)
            intercept = np.full(k, -30.0, dtype=np.float32)
            for j in range(k):
                if 0 < y[:, j].sum() < len(y):
                    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
                    lr.fit(x_train, y[:, j])
                    coef[j], intercept[j] = lr.coef_[0], lr.intercept_[0]
                elif y[:, j].sum() == len(y):  # every training note has it
                    intercept[j] = 30.0
            model = cls(word, char, coef, intercept, label_names, c)
            if x_val is None:
                return model
            probs = _sigmoid(np.asarray(x_val @ model.coef.T + model.intercept, dtype=np.float64))
            thresholds = choose_thresholds(val_labels, probs)
            f1 = multilabel_metrics(val_labels, probs, label_names, thresholds=thresholds)["f1_micro"]
            if best is None or f1 > best.val_f1 + 1e-12:
                model.val_f1 = f1
                best = model
        return best
