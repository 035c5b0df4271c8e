"""Classification scores: accuracy, F1 and Matthews correlation, and the majority baseline.

F1: for two classes the F1 of class 1 (the second label of the label spec, e.g. ``1`` =
acceptable in CoLA, positive in SST-2); for more classes the macro mean over classes. A class
never predicted nor present has F1 0 (there is nothing to average it from). MCC is the
multi-class form (Gorodkin 2004), 0 when a row or column of the confusion matrix is all
zero (e.g. a constant prediction, such as the majority baseline).
"""

from __future__ import annotations

import numpy as np

from ..stats.confusion import confusion, f1_of, mcc_of


def mcc(c: np.ndarray) -> float:
    """The MCC of one confusion matrix (``stats.confusion.mcc_of``)."""
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
