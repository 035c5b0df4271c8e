"""What an analysis is: one object that names every part of it (see docs/extending.md).

An analysis lives in one folder, ``headlens/analyses/<name>/``, whose ``__init__`` defines
``ANALYSIS = Analysis(...)``; ``headlens.analyses.registry`` lists them, one line each. The
object is built without importing its heavy parts: a :func:`part` is a reference to a function in
the folder that is imported when it is first called, so that ``headlens --help`` imports the
options and command of every analysis, and nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ..metrics.registry import MetricSet
from ..options import Options


class part:  # noqa: N801 - used like a function in the registry lines
    """``part(__name__, "stats", "head_roles")``: the function ``head_roles`` of the module
    ``stats`` of the analysis' folder, imported on the first call."""

    def __init__(self, package: str, module: str, name: str):
        self.package, self.module, self.name = package, module, name

    def resolve(self) -> Callable:
        return getattr(importlib.import_module(f"{self.package}.{self.module}"), self.name)

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"part({self.package}.{self.module}:{self.name})"


@dataclass(frozen=True)
class Analysis:
    """Every part of one analysis; each is optional.

    - ``options``: its run-time options (flags of ``headlens run``, ``RunConfig.options[name]``);
    - ``metrics``: what the engine computes for it in ``headlens run --analyses NAME``;
    - ``collect(cfg, lm)``: its batch-level collector (``headlens.collect``), if it has one;
      ``scales_out``: its collector runs on the workers of ``--engine ray`` (its parts merge,
      ``collect.merge_parts``);
    - ``finalize(run)``: the tables ``headlens run`` leaves in the run directory when it ends;
    - ``settings``: the options of its statistics step (the flags of its subcommand);
    - ``analyse(run, settings)`` and ``save(run, result)``: its statistics step, reading the store;
    - ``view(tables, params, layers, heads) -> (view, marks)``: its report section, built from the
      tables its statistics step saved (``required``: the tables the view needs);
    - ``sentences(run) -> dict``: the per-sentence data of its report section, read from what the run stored
      (its maps of the ``--store-maps`` sentences), never a model; ``script``: the file, in its folder, of the
      page script that draws its section (it sets ``HEADLENS_SECTION_VIEWS[name]``, see report/assets/report.js);
    - ``figures(writer, data)``: its publication figures, drawn from the report's data;
    - ``command(subparsers)``: adds its subcommand(s) to the ``headlens`` command.
    """

    name: str
    summary: str
    options: type[Options] | None = None
    metrics: MetricSet | None = None
    collect: Callable | None = None
    scales_out: bool = False
    finalize: Callable | None = None
    settings: type[Options] | None = None
    analyse: Callable | None = None
    save: Callable | None = None
    view: Callable | None = None
    required: tuple[str, ...] = ()
    sentences: Callable | None = None
    script: str = ""
    figures: Callable | None = None
    command: Callable | None = None
    reference: str = ""  # the paper(s) and the docs page

    def __post_init__(self) -> None:
        if self.metrics is not None and self.metrics.analysis != self.name:
            raise ValueError(f"analysis {self.name!r} holds the metrics of {self.metrics.analysis!r}")
