"""Per-sentence, per-head metrics computed on the device right after each layer: the metric type,
the attention views and the fused path's reductions. The metrics themselves belong to the
analyses (``headlens/analyses/<name>/metrics.py``), and ``headlens.analyses.registry`` resolves
their names."""

from .registry import Metric, MetricFamily, MetricSet
from .view import SMOOTHING, AttentionView

__all__ = ["SMOOTHING", "AttentionView", "Metric", "MetricFamily", "MetricSet"]
