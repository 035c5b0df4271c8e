"""Fine-tuning encoders for sentence / sentence-pair classification, and evaluating classifiers.

The names below are imported on first use (PEP 562), so that the commands' help and the
ablation analysis' options read ``finetune.data`` without importing torch."""

from importlib import import_module

_NAMES = {
    "RECORD": "card", "read_card": "card", "load_classifier": "classifier", "predict": "classifier",
    "Columns": "data", "Examples": "data", "read_examples": "data", "classifier_labels": "evaluate",
    "evaluate": "evaluate", "classification_scores": "scores", "majority_baseline": "scores", "mcc": "scores",
    "FinetuneConfig": "train", "FinetuneResult": "train", "finetune": "train",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_NAMES[name]}", __name__), name)
    globals()[name] = value
    return value
