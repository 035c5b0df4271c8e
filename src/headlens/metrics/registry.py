"""Metrics are plug-ins registered by name; analyses are named groups of metrics.

A metric has one verb, ``score(view) -> Tensor[B, H]``: one number per sentence and head for
the layer the view holds (NaN where the metric is undefined for a sentence). The runner calls it
on every layer, on the device, right after the layer has run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from .view import AttentionView


@dataclass(frozen=True)
class Metric:
    name: str
    level: str  # "token" or "word"
    description: str
    fn: Callable[[AttentionView], torch.Tensor]
    analysis: str

    def score(self, view: AttentionView) -> torch.Tensor:
        return self.fn(view)


_METRICS: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    if metric.name in _METRICS:
        raise ValueError(f"metric {metric.name!r} is registered twice")
    if metric.level not in ("token", "word"):
        raise ValueError(f"metric level must be 'token' or 'word', got {metric.level!r}")
    _METRICS[metric.name] = metric
    return metric


def available() -> dict[str, Metric]:
    return dict(_METRICS)


def analyses() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in _METRICS.values():
        out.setdefault(m.analysis, []).append(m.name)
    return out


def resolve(analysis_names: Iterable[str] = ("surface",), metric_names: Iterable[str] | None = None) -> list[Metric]:
    """The metrics of the named analyses, or exactly the named metrics when given."""
    if metric_names:
        unknown = [n for n in metric_names if n not in _METRICS]
        if unknown:
            raise ConfigError(f"unknown metric(s) {unknown}. Valid metrics: {', '.join(sorted(_METRICS))}.")
        return [_METRICS[n] for n in dict.fromkeys(metric_names)]
    groups = analyses()
    unknown = [a for a in analysis_names if a not in groups]
    if unknown:
        raise ConfigError(f"unknown analysis {unknown}. Valid analyses: {', '.join(sorted(groups))}.")
    names = [n for a in dict.fromkeys(analysis_names) for n in groups[a]]
    if not names:
        raise ConfigError("no metric selected: name at least one analysis or metric.")
    return [_METRICS[n] for n in names]
