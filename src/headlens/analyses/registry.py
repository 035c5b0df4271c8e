"""Every analysis, one line each: adding an analysis is one folder and one line here
(docs/extending.md). Metric names are resolved across all of them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ..errors import ConfigError
from ..metrics.registry import Metric, MetricFamily
from . import (ablation, attribution, categories, cluster, compare, decomposition, features, layers, patterns, probe,
               roles, surface, syntax)
from .base import Analysis

ANALYSES: dict[str, Analysis] = {a.name: a for a in (
    surface.ANALYSIS,
    surface.ROWS,
    roles.ANALYSIS,
    syntax.ANALYSIS,
    cluster.ANALYSIS,
    layers.ANALYSIS,
    categories.ANALYSIS,
    compare.ANALYSIS,
    patterns.ANALYSIS,
    features.ANALYSIS,
    ablation.ANALYSIS,
    decomposition.ANALYSIS,
    decomposition.FF,
    attribution.ANALYSIS,
    probe.ANALYSIS,
)}


def _metric_sets():
    return [a.metrics for a in ANALYSES.values() if a.metrics is not None]


def available() -> dict[str, Metric]:
    """Every fixed metric of every analysis, by name."""
    out: dict[str, Metric] = {}
    for s in _metric_sets():
        for name, m in s.metrics.items():
            if name in out:
                raise ValueError(f"metric {name!r} belongs to two analyses: {out[name].analysis} and {m.analysis}")
            out[name] = m
    return out


def families() -> list[MetricFamily]:
    return [f for s in _metric_sets() for f in s.families]


def analyses() -> dict[str, list[str]]:
    """Analysis -> its fixed metrics (the analyses that compute metrics in a run)."""
    return {s.analysis: list(s.metrics) for s in _metric_sets() if s.metrics}


def lookup(name: str) -> Metric | None:
    """The metric called ``name``: a fixed one, or built by the family whose pattern it matches."""
    fixed = available()
    if name in fixed:
        return fixed[name]
    for fam in families():
        match = re.fullmatch(fam.pattern, name)
        if match:
            return fam.build(match)
    return None


def run_analyses() -> list[str]:
    """The analyses ``headlens run --analyses`` accepts: those that compute metrics in a run."""
    return [a.name for a in ANALYSES.values() if a.metrics is not None]


def options_of(name: str, options: Mapping[str, object] | None = None):
    """The options instance of analysis ``name`` in ``options`` (analysis -> an instance or a dict of
    its fields), or its defaults."""
    a = ANALYSES[name]
    if a.options is None:
        return None
    return a.options.coerce((options or {}).get(name), "resolve", f"options[{name!r}]")


def resolve(
    analysis_names: Iterable[str] = ("surface",),
    metric_names: Iterable[str] | None = None,
    options: Mapping[str, object] | None = None,
) -> list[Metric]:
    """The metrics of the named analyses, or exactly the named metrics when given.

    ``options`` maps an analysis to its options instance (``RunConfig.options``); an analysis
    without an entry takes its defaults.
    """
    if metric_names:
        found = {n: lookup(n) for n in dict.fromkeys(metric_names)}
        unknown = [n for n, m in found.items() if m is None]
        if unknown:
            patterns = "".join(f" {f.template} ({f.description})," for f in families())
            raise ConfigError(
                f"unknown metric(s) {unknown}. Valid metrics: {', '.join(sorted(available()))}; "
                f"parametrised families, e.g.:{patterns.rstrip(',')}."
            )
        return list(found.values())
    valid = run_analyses()
    unknown = [a for a in analysis_names if a not in valid]
    if unknown:
        raise ConfigError(f"unknown analysis {unknown}. Valid analyses: {', '.join(sorted(valid))}.")
    names: list[str | Metric] = []
    for a in dict.fromkeys(analysis_names):
        names += ANALYSES[a].metrics.names(options_of(a, options))
    if not names:
        raise ConfigError("no metric selected: name at least one analysis or metric.")
    picked: dict[str, Metric | str] = {}
    for n in names:
        picked.setdefault(n.name if isinstance(n, Metric) else n, n)
    return [n if isinstance(n, Metric) else lookup(n) for n in picked.values()]


def finalizers(analyses: Iterable[str]) -> list[str]:
    """The named analyses that leave tables in a finished run (those with a ``finalize``)."""
    return [n for n in dict.fromkeys(analyses) if n in ANALYSES and ANALYSES[n].finalize is not None]


def finalize(run, analyses: Iterable[str]) -> None:
    """The tables each named analysis leaves in a finished run directory (its ``finalize``); the
    manifest's "finalizers" records each one as "done" once its tables are written (a run whose
    statistics stopped halfway says which are still "pending")."""
    for name in finalizers(analyses):
        ANALYSES[name].finalize(run)
        run.record_finalizer(name, "done")


def collectors() -> dict:
    """Analysis -> its collector factory ``(cfg, lm) -> Collector``."""
    return {a.name: a.collect for a in ANALYSES.values() if a.collect is not None}
