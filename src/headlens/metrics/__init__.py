"""Per-sentence, per-head metrics computed on the device right after each layer."""

from . import behaviour, categories, dependency, roles, surface  # noqa: F401 - register their metrics
from . import features, patterns  # noqa: F401 - Kovaleva et al.: features of interest, pattern types
from .registry import Metric, analyses, available, register, resolve
from .view import SMOOTHING, AttentionView
from . import decomposition  # noqa: F401,E402 - the decomposition's per-head metrics (level "parts"), names only

__all__ = ["SMOOTHING", "AttentionView", "Metric", "analyses", "available", "register", "resolve"]
