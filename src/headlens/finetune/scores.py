"""Classification scores: accuracy, F1 and Matthews correlation, and the majority baseline.

F1: for two classes the F1 of class 1 (the second label of the label spec, e.g. ``1`` =
acceptable in CoLA, positive in SST-2); for more classes the macro mean over classes. A class
never predicted nor present has F1 0 (there is nothing to average it from). MCC is the
multi-class form (Gorodkin 2004), 0 when a row or column of the confusion matrix is all
zero (e.g. a constant prediction, such as the majority baseline).
"""

from __future__ import annotations

import numpy as np


def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C[true, predicted] counts."""
    c = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(c, (np.asarray(y, int), np.asarray(pred, int)), 1)
    return c


def _f1(c: np.ndarray, k: int) -> float:
    tp, fp, fn = c[k, k], c[:, k].sum() - c[k, k], c[k, :].sum() - c[k, k]
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0


def mcc(c: np.ndarray) -> float:
    c = c.astype(np.float64)
    s, correct = c.sum(), np.trace(c)
    t, p = c.sum(1), c.sum(0)
    den = np.sqrt((s * s - p @ p) * (s * s - t @ t))
    return float((correct * s - p @ t) / den) if den > 0 else 0.0


def classification_scores(y, pred, n_classes: int) -> dict:
    """accuracy, f1 (see the module docstring), mcc, n and the confusion matrix."""
    y, pred = np.asarray(y, int), np.asarray(pred, int)
    c = confusion(y, pred, n_classes)
    f1 = _f1(c, 1) if n_classes == 2 else float(np.mean([_f1(c, k) for k in range(n_classes)]))
    return {"n": int(len(y)), "accuracy": float((y == pred).mean()) if len(y) else float("nan"),
            "f1": f1, "mcc": mcc(c), "confusion": c.tolist()}


def majority_baseline(train_labels, dev_labels, n_classes: int) -> dict:
    """Scores of always predicting the most frequent training class (ties: the lower index)."""
    counts = np.bincount(np.asarray(train_labels, int), minlength=n_classes)
    majority = int(np.argmax(counts))
    out = classification_scores(dev_labels, np.full(len(dev_labels), majority), n_classes)
    out["predicted_class"] = majority
    return out
