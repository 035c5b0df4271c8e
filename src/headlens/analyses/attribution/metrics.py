"""The attribution analysis' per-sentence metrics (``--analyses attribution``): names only.

They are of level ``parts``: the attribution collector (``collect.py``) fills them from each layer's parts after
rolling the layer out, no attention view computes them. Each is one number per sentence and layer, stored in the
slot of head 1 of the layer (the other heads' slots stay NaN), so that ``headlens compare`` tests them per layer
(its per-layer test averages a layer's heads, ignoring NaN) and ``run.scores`` reads them like any metric.
"""

from __future__ import annotations

from ...metrics.registry import Metric, MetricSet
from .names import (ANALYSIS, DEFAULT_METHODS, METHOD_TITLES, METHODS, STAT_TEXT, STATS, agree_metric, metric_names,
                    pairs, stat_metric)


def _computed_by_the_collector(view):
    raise NotImplementedError("attribution metrics are filled by the attribution collector, not by a view")


def _expand(options) -> list[str]:
    return metric_names(options.methods if options is not None else DEFAULT_METHODS)


METRICS = MetricSet(ANALYSIS, _expand)
for _m in METHODS:
    for _s in STATS:
        METRICS.add(Metric(stat_metric(_m, _s), "parts", f"{METHOD_TITLES[_m]}, rolled out to the layer: "
                           f"{STAT_TEXT[_s]}", _computed_by_the_collector, ANALYSIS))
for _a, _b in pairs(METHODS):
    METRICS.add(Metric(agree_metric(_a, _b), "parts", f"mean Spearman rho between the rows of {METHOD_TITLES[_a]} and "
                       f"{METHOD_TITLES[_b]}, rolled out to the layer", _computed_by_the_collector, ANALYSIS))
