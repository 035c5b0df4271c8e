"""``dep_<rel>_<dir>`` as the accuracy it stands for: the share of the relation's dependents whose head
gets the head's maximum attention (docs/conventions.md).

The run stores per-sentence hit COUNTS (``metrics.py``): a head's mean count times the sentences it
was scored on is its hits; the relation's arcs are the syntax collector's per-sentence counts,
summed over the committed parts. ``runs show`` and the report's heatmaps show the accuracy, with
hits and arcs beside it.
"""

from __future__ import annotations

import os
import re

import numpy as np

from ...store import Run, layout
from ...store.integrity import committed_parts
from .metrics import PATTERN


def relation_of(metric: str) -> str | None:
    """The relation of a ``dep_<rel>_<dir>`` metric, None for another metric."""
    m = re.fullmatch(PATTERN, metric)
    return m["relation"] if m else None


def arc_totals(run: Run) -> dict[str, int]:
    """relation -> arcs over the run's committed parts; empty when the run has no syntax collector parts."""
    totals: dict[str, int] = {}
    parts = [layout.part_number(f) for f in committed_parts(run.path, run.manifest) if f.startswith(layout.SENTENCES + "/")]
    paths = [layout.collect_path(run.path, "syntax", n) for n in parts if n is not None]
    if not paths or not all(os.path.exists(p) for p in paths):
        return {}
    run._verified(layout.collect_dir("syntax") + "/")
    for path in paths:
        with np.load(path) as z:
            counts = z["counts"]  # [S, R, 1 + offsets]: arcs, then the offsets' hits
            for r, rel in enumerate(z["relations"]):
                totals[str(rel)] = totals.get(str(rel), 0) + int(counts[:, r, 0].sum())
    return totals


def accuracy(metric: str, mean, count, totals: dict[str, int]) -> dict | None:
    """{accuracy, hits, arcs} of one head of a ``dep_`` metric (mean hit count over ``count`` sentences),
    None when the metric is not one or its relation's arcs are unknown."""
    rel = relation_of(metric)
    arcs = totals.get(rel) if rel else None
    if not arcs or mean is None or count is None:
        return None
    hits = int(round(float(mean) * float(count)))
    return {"accuracy": hits / arcs, "hits": hits, "arcs": arcs}
