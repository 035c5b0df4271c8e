"""The ``cluster`` analysis: the head distances come from its collector (``collect/js.py``); its
metrics are the surface patterns that label each head's behaviour on the map (see
``analyses/cluster.py`` for the thresholds)."""

from __future__ import annotations

from ...metrics.registry import MetricSet

BEHAVIOUR_METRICS = ("entropy", "prev", "next", "cls", "sep", "punct")

METRICS = MetricSet("cluster", lambda options: list(BEHAVIOUR_METRICS))  # surface metrics, run along
