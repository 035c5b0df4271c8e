"""Fine-tuning encoders for sentence / sentence-pair classification, and evaluating classifiers."""

from .card import RECORD, read_card
from .classifier import load_classifier, predict
from .data import Columns, Examples, read_examples
from .evaluate import classifier_labels, evaluate
from .scores import classification_scores, majority_baseline, mcc
from .train import FinetuneConfig, FinetuneResult, finetune

__all__ = [
    "RECORD", "Columns", "Examples", "FinetuneConfig", "FinetuneResult", "classification_scores", "classifier_labels",
    "evaluate", "finetune",
    "load_classifier", "majority_baseline", "mcc", "predict", "read_card", "read_examples",
]
