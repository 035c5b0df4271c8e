"""Evaluate a fine-tuned classifier on a labelled file (the classes come from its config)."""

from __future__ import annotations

from .classifier import load_classifier, predict
from .data import Columns, read_examples
from .scores import classification_scores


def classifier_labels(model) -> tuple[str, ...]:
    id2label = model.config.id2label
    return tuple(str(id2label[k]) for k in sorted(id2label, key=int))


def evaluate(model_path: str, data: str, columns: str | Columns, fmt: str = "auto", max_length: int = 128,
             batch_size: int = 64, device: str = "cpu") -> dict:
    """Scores of the classifier in ``model_path`` on ``data`` (accuracy, F1, MCC, confusion)."""
    model, tokenizer, _ = load_classifier(model_path)
    cols = columns if isinstance(columns, Columns) else Columns.parse(str(columns))
    ex = read_examples(data, cols, classifier_labels(model), fmt)
    model.to(device)
    pred = predict(model, tokenizer, ex, max_length, batch_size, device)
    out = classification_scores(ex.labels, pred, len(ex.label_names))
    out["labels"] = list(ex.label_names)
    return out
