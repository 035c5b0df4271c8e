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


def f1_of(c: np.ndarray) -> np.ndarray:
    """F1 (see the module docstring) of confusion matrices ``c`` [..., C, C] (any leading axes, e.g.
    ablations x bootstrap replicates of weighted counts)."""
    c = np.asarray(c, dtype=np.float64)
    tp = np.diagonal(c, axis1=-2, axis2=-1)
    den = c.sum(-2) + c.sum(-1)  # 2 tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(den > 0, 2 * tp / np.where(den > 0, den, 1.0), 0.0)
    return f1[..., 1] if c.shape[-1] == 2 else f1.mean(-1)


def mcc_of(c: np.ndarray) -> np.ndarray:
    """Multi-class MCC (Gorodkin 2004) of confusion matrices ``c`` [..., C, C]; 0 where undefined."""
    c = np.asarray(c, dtype=np.float64)
    s, correct = c.sum((-2, -1)), np.trace(c, axis1=-2, axis2=-1)
    t, p = c.sum(-1), c.sum(-2)
    den = np.sqrt((s * s - (p * p).sum(-1)) * (s * s - (t * t).sum(-1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (correct * s - (p * t).sum(-1)) / np.where(den > 0, den, 1.0), 0.0)


def mcc(c: np.ndarray) -> float:
    return float(mcc_of(c))


def confusion_scores(c: np.ndarray) -> dict:
    """accuracy, f1, mcc, n and the confusion matrix of the counts ``c`` [C, C] (C[true, predicted])."""
    c = np.asarray(c, dtype=np.int64)
    n = int(c.sum())
    return {"n": n, "accuracy": int(np.trace(c)) / n if n else float("nan"),
            "f1": float(f1_of(c)), "mcc": mcc(c), "confusion": c.tolist()}


def classification_scores(y, pred, n_classes: int) -> dict:
    """accuracy, f1 (see the module docstring), mcc, n and the confusion matrix."""
    return confusion_scores(confusion(y, pred, n_classes))


def majority_baseline(train_labels, dev_labels, n_classes: int) -> dict:
    """Scores of always predicting the most frequent training class (ties: the lower index)."""
    counts = np.bincount(np.asarray(train_labels, int), minlength=n_classes)
    majority = int(np.argmax(counts))
    out = classification_scores(dev_labels, np.full(len(dev_labels), majority), n_classes)
    out["predicted_class"] = majority
    return out
