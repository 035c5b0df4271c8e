"""The HTML report and the publication figures of a run.

>>> from headlens.report import write_report, write_figures
>>> write_report("runs/demo", out="runs/demo/report.html")            # doctest: +SKIP
>>> write_figures("runs/demo", "figs/", fmt="svg")                    # doctest: +SKIP

``build`` gathers what a run holds into one JSON-able dict (``report.collect``); ``render`` turns
it into a single HTML file with every asset inlined (``report.html``); ``figures`` draws the
same views with matplotlib (``report.figures``). The package is callable:
``headlens.report(run, out=None, **options)`` is :func:`write_report`.
"""

from __future__ import annotations

import os
import sys
import types

from ..store import layout
from ..store.atomic import atomic_write_text
from .collect import build, discover_outputs
from .html import render


def write_report(run, out: str | None = None, **options) -> tuple[str, dict]:
    """Build and write the report of ``run`` (a Run or its path); returns (path, data).

    ``out`` defaults to ``RUN/report.html``; ``options`` go to :func:`build` (compare,
    sentences, sentence_ids, probes, ablations, max_rows, title).
    """
    data = build(run, **options)
    path = out or os.path.join(data["run"]["path"], layout.REPORT)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    atomic_write_text(path, render(data))
    return path, data


def write_figures(run, out_dir: str, fmt: str = "svg", dpi: int = 300, metrics: list[str] | None = None,
                  heads: list | None = None, curated: bool = False, **options):
    """Draw one figure per view of ``run`` into ``out_dir``; returns the FigureFile list (path, view, panels).

    ``curated``: the default set of ``headlens figures`` (about 10 files), else every view; ``metrics``
    limits every figure of a metric (heatmaps, comparisons); ``heads`` (labels ``"L3H7"`` or 0-based
    (layer, head) pairs) are drawn in the head view of each chosen sentence (default: L1H1);
    ``options`` go to :func:`build`.
    """
    from .figures import draw_all

    data = build(run, **options)
    return draw_all(data, out_dir, fmt, dpi=dpi, metrics=metrics, heads=heads, curated=curated)


__all__ = ["build", "discover_outputs", "render", "write_figures", "write_report"]


class _CallableReport(types.ModuleType):
    """The report package, callable as :func:`write_report` (``headlens.report(run)``): a function
    named ``report`` in ``headlens`` would be replaced by this package as soon as it is imported."""

    def __call__(self, run, out: str | None = None, **options) -> tuple[str, dict]:
        return write_report(run, out, **options)


sys.modules[__name__].__class__ = _CallableReport
