"""Metrics: one number per sentence and head per layer; each analysis holds its metrics in a MetricSet.

A metric has one verb, ``score(view) -> Tensor[B, H]``: one number per sentence and head for
the layer the view holds (NaN where the metric is undefined for a sentence). The runner calls it
on every layer, on the device, right after the layer has run. A metric that also declares a
``need`` (:class:`~headlens.metrics.fused.Need`) is computed on the fused path, without the
layer's attention map, to the same value (tests/test_fused.py).

Parametrised metrics (a sieve window width, a dependency relation) form a *family*: a name
pattern and a builder, so that ``role_syn_acl:relcl_d2h`` or ``role_local_w3`` resolve without
being listed one by one. An analysis whose metric list depends on its options (which relations,
which window) gives its set an *expander* ``options -> metric names``. Names are resolved across
every analysis by ``headlens.analyses.registry``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING


if TYPE_CHECKING:  # the registry holds names and descriptions without importing torch
    import torch

    from .fused import Need
    from .view import AttentionView


@dataclass(frozen=True)
class Metric:
    name: str
    level: str  # "token", "word", or "parts" (filled by a layer analysis, see runner/parts.py)
    description: str
    fn: Callable[[AttentionView], torch.Tensor]
    analysis: str
    params: Mapping[str, object] = field(default_factory=dict)  # e.g. {"relation": "nsubj"}: what the batch must provide
    need: Need | None = None  # what it reads on the fused path (metrics.fused); None: full rows

    def score(self, view: AttentionView) -> torch.Tensor:
        return self.fn(view)


@dataclass(frozen=True)
class MetricFamily:
    """Metrics whose names match ``pattern`` (a full match); ``build(match)`` makes one."""

    analysis: str
    pattern: str
    build: Callable[[re.Match], Metric]
    template: str  # how the names look, e.g. role_local_w<k>
    description: str


class MetricSet:
    """The metrics one analysis contributes: fixed metrics, parametrised families, and how its
    metric list follows from its options (``expand(options) -> names or Metric objects``; default:
    its fixed metrics). It is a plain object: nothing is registered by importing a module; the
    analyses' registry (``headlens.analyses.registry``) collects the sets."""

    def __init__(self, analysis: str, expand: Callable[[object], list] | None = None):
        self.analysis = analysis
        self.metrics: dict[str, Metric] = {}
        self.families: list[MetricFamily] = []
        self._expand = expand

    def add(self, metric: Metric) -> Metric:
        if metric.name in self.metrics:
            raise ValueError(f"metric {metric.name!r} is added twice")
        if metric.level not in ("token", "word", "parts"):
            raise ValueError(f"metric level must be 'token', 'word' or 'parts', got {metric.level!r}")
        if metric.analysis != self.analysis:
            raise ValueError(f"metric {metric.name!r} of analysis {metric.analysis!r} added to {self.analysis!r}")
        self.metrics[metric.name] = metric
        return metric

    def family(self, family: MetricFamily) -> MetricFamily:
        self.families.append(family)
        return family

    def expand_with(self, expand: Callable[[object], list]) -> None:
        self._expand = expand

    def names(self, options: object = None) -> list:
        """The metric names (or Metric objects built with the options) of a run with ``options``
        (the analysis' options instance, or None)."""
        return list(self._expand(options)) if self._expand is not None else list(self.metrics)
