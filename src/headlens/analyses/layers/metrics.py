"""The ``layers`` analysis reads hidden states (its collector, ``collect.py``), not attention; a run
needs at least one metric, so it runs along the surface entropy (fused, no map: cheap)."""

from __future__ import annotations

from ...metrics.registry import MetricSet

METRICS = MetricSet("layers", lambda options: ["entropy"])
