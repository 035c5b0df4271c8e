"""Metrics are plug-ins registered by name; analyses are named groups of metrics.

A metric has one verb, ``score(view) -> Tensor[B, H]``: one number per sentence and head for
the layer the view holds (NaN where the metric is undefined for a sentence). The runner calls it
on every layer, on the device, right after the layer has run. A metric that also declares a
``need`` (:class:`~headlens.metrics.fused.Need`) is computed on the fused path, without the
layer's attention map, to the same value (tests/test_fused.py).

Parametrised metrics (a sieve window width, a dependency relation) are registered as a
*family*: a name pattern and a builder, so that ``role_syn_acl:relcl_d2h`` or ``role_local_w3``
resolve without being listed one by one. An analysis whose metric list depends on run options
(which relations, which window) registers an *expander* ``options -> metric names``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ConfigError

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


_METRICS: dict[str, Metric] = {}
_FAMILIES: list[MetricFamily] = []
_EXPANDERS: dict[str, Callable[[Mapping[str, object]], list[str]]] = {}


def register(metric: Metric) -> Metric:
    if metric.name in _METRICS:
        raise ValueError(f"metric {metric.name!r} is registered twice")
    if metric.level not in ("token", "word", "parts"):
        raise ValueError(f"metric level must be 'token', 'word' or 'parts', got {metric.level!r}")
    _METRICS[metric.name] = metric
    return metric


def register_family(family: MetricFamily) -> MetricFamily:
    _FAMILIES.append(family)
    return family


def register_analysis(name: str, expand: Callable[[Mapping[str, object]], list[str]]) -> None:
    """An analysis whose metrics depend on run options: ``expand(options)`` returns names, or
    Metric objects built with the options (e.g. the categories' UPOS mapping)."""
    if name in _EXPANDERS:
        raise ValueError(f"analysis {name!r} is registered twice")
    _EXPANDERS[name] = expand


def families() -> list[MetricFamily]:
    return list(_FAMILIES)


def lookup(name: str) -> Metric | None:
    """The metric called ``name``: registered, or built by the family whose pattern it matches."""
    if name in _METRICS:
        return _METRICS[name]
    for fam in _FAMILIES:
        match = re.fullmatch(fam.pattern, name)
        if match:
            return fam.build(match)
    return None


def available() -> dict[str, Metric]:
    return dict(_METRICS)


def analyses() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in _METRICS.values():
        out.setdefault(m.analysis, []).append(m.name)
    return out


def resolve(
    analysis_names: Iterable[str] = ("surface",),
    metric_names: Iterable[str] | None = None,
    options: Mapping[str, object] | None = None,
) -> list[Metric]:
    """The metrics of the named analyses, or exactly the named metrics when given.

    ``options`` are the run options that expanding analyses read (e.g. ``relations``).
    """
    if metric_names:
        found = {n: lookup(n) for n in dict.fromkeys(metric_names)}
        unknown = [n for n, m in found.items() if m is None]
        if unknown:
            patterns = "".join(f" {f.template} ({f.description})," for f in _FAMILIES)
            raise ConfigError(
                f"unknown metric(s) {unknown}. Valid metrics: {', '.join(sorted(_METRICS))}; "
                f"parametrised families, e.g.:{patterns.rstrip(',')}."
            )
        return list(found.values())
    groups = analyses()
    valid = sorted(set(groups) | set(_EXPANDERS))
    unknown = [a for a in analysis_names if a not in valid]
    if unknown:
        raise ConfigError(f"unknown analysis {unknown}. Valid analyses: {', '.join(valid)}.")
    names: list[str | Metric] = []
    for a in dict.fromkeys(analysis_names):
        names += _EXPANDERS[a](options or {}) if a in _EXPANDERS else groups[a]
    if not names:
        raise ConfigError("no metric selected: name at least one analysis or metric.")
    picked: dict[str, Metric | str] = {}
    for n in names:
        picked.setdefault(n.name if isinstance(n, Metric) else n, n)
    return [n if isinstance(n, Metric) else lookup(n) for n in picked.values()]
