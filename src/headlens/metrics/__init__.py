"""Per-sentence, per-head metrics computed on the device right after each layer."""

from . import surface  # noqa: F401 - registers the surface metrics
from .registry import Metric, analyses, available, register, resolve
from .view import SMOOTHING, AttentionView

__all__ = ["SMOOTHING", "AttentionView", "Metric", "analyses", "available", "register", "resolve"]
