"""Classification scores of confusion matrices, vectorised over any leading axes (e.g. ablations x
bootstrap replicates of weighted counts): accuracy, F1 and Matthews correlation.

F1: for two classes the F1 of class 1; for more classes the macro mean over classes; a class never
predicted nor present has F1 0. MCC is the multi-class form (Gorodkin 2004), 0 when a row or column
of the matrix is all zero (e.g. a constant prediction). ``finetune.scores`` reports these.
"""

from __future__ import annotations

import numpy as np


def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C[true, predicted] counts."""
    c = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(c, (np.asarray(y, int), np.asarray(pred, int)), 1)
    return c


def f1_of(c: np.ndarray) -> np.ndarray:
    """F1 (see the module docstring) of confusion matrices ``c`` [..., C, C]."""
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


def accuracy_of(c: np.ndarray) -> np.ndarray:
    """The fraction on the diagonal of confusion matrices ``c`` [..., C, C] (NaN for an empty one)."""
    c = np.asarray(c, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.trace(c, axis1=-2, axis2=-1) / c.sum((-2, -1))


SCORES = {"accuracy": accuracy_of, "f1": f1_of, "mcc": mcc_of}
