"""The decomposition's ``layers`` rows summarised part by part, in memory that does not grow with the corpus.

Every summary of ``stats.py`` is a statistic per (layer, metric, group) cell of the long-form
``layers`` table (``decompose/tables.py``): a count-weighted mean (mixing ratio, FF
amplification), a mean and standard deviation over sentences (contextualization change) or a
maximum (completeness). :class:`LayerSums` keeps, per cell, the mergeable sums they need: the
rows (sentences), the summed ``count`` and ``value * count``, and the moments of ``value``
(``accumulate.Moments``: count, mean, M2, min, max, merged with Chan et al.'s update). A part's
rows are added with :meth:`LayerSums.add`; two LayerSums merge (:meth:`LayerSums.merge`) as if
their rows had been added to one. Memory: layers x metrics x groups cells, and one part.
"""

from __future__ import annotations

import numpy as np

from ...accumulate import Moments
from ...decompose.tables import DICTIONARY, GROUP_NAMES
from ...errors import RunStoreError


def _coded(part: dict[str, np.ndarray], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes, names) of a string column of a part (a coded column, or a plain one of an older part)."""
    if key + DICTIONARY in part:
        return part[key].astype(np.int64), np.asarray(part[key + DICTIONARY]).astype(str)
    names, codes = np.unique(np.asarray(part[key]).astype(str), return_inverse=True)
    return codes.astype(np.int64), names


class LayerSums:
    """Per (layer, metric, group) cell: ``rows``, ``count`` (summed), ``weighted`` (summed value * count)
    and ``moments`` of ``value``. ``metrics``: the run's ``layers`` metric names."""

    def __init__(self, layers: int, metrics: list[str]):
        self.layers, self.metrics, self.groups = int(layers), list(metrics), list(GROUP_NAMES)
        shape = (self.layers, len(self.metrics), len(self.groups))
        self.rows = np.zeros(shape, np.int64)
        self.count = np.zeros(shape, np.int64)
        self.weighted = np.zeros(shape, np.float64)
        self.moments = Moments(shape)

    def _grow(self, names) -> None:
        """Cells for metrics not seen yet (a part of an older run names only the metrics it holds)."""
        new = [m for m in names if m not in self.metrics]
        if not new:
            return
        self.metrics += new
        pad = lambda a, fill: np.concatenate([a, np.full((a.shape[0], len(new), a.shape[2]), fill, a.dtype)], 1)  # noqa: E731
        self.rows, self.count, self.weighted = pad(self.rows, 0), pad(self.count, 0), pad(self.weighted, 0.0)
        m = self.moments
        m.count, m.mean, m.m2, m.min, m.max = pad(m.count, 0), pad(m.mean, 0.0), pad(m.m2, 0.0), pad(m.min, np.inf), pad(m.max, -np.inf)
        m.shape = self.rows.shape

    def _cells(self, part: dict[str, np.ndarray], where: str) -> np.ndarray:
        """Flat cell index of every ``layers`` row of ``part``."""
        codes, names = _coded(part, "layers.metric")
        self._grow(names)
        index = {m: k for k, m in enumerate(self.metrics)}
        metric = np.asarray([index[m] for m in names], np.int64)[codes] if len(codes) else codes
        gcodes, gnames = _coded(part, "layers.group")
        group = np.asarray([self.groups.index(g) for g in gnames], np.int64)[gcodes] if len(gcodes) else gcodes
        layer = part["layers.layer"].astype(np.int64)
        if len(layer) and (layer.min() < 0 or layer.max() >= self.layers):
            raise RunStoreError(f"{where}: holds a layer outside the model's {self.layers}.")
        return (layer * len(self.metrics) + metric) * len(self.groups) + group

    def add(self, part: dict[str, np.ndarray], where: str = "a decomposition part") -> LayerSums:
        """Add the ``layers`` rows of one part (a dict of its arrays, ``collect.iter_parts``)."""
        cells = self._cells(part, where)
        size = self.rows.size
        value = part["layers.value"].astype(np.float64)
        count = part["layers.count"].astype(np.int64)
        other = LayerSums(self.layers, list(self.metrics))
        rows = np.bincount(cells, minlength=size)
        other.rows = rows.reshape(self.rows.shape)
        other.count = np.bincount(cells, weights=count, minlength=size).astype(np.int64).reshape(self.rows.shape)
        other.weighted = np.bincount(cells, weights=value * count, minlength=size).reshape(self.rows.shape)
        m = other.moments
        m.count = other.rows.copy()
        mean = np.bincount(cells, weights=value, minlength=size) / np.maximum(rows, 1)
        m.mean = mean.reshape(self.rows.shape)
        m.m2 = np.bincount(cells, weights=(value - mean[cells]) ** 2, minlength=size).reshape(self.rows.shape)
        low, high = np.full(size, np.inf), np.full(size, -np.inf)
        np.minimum.at(low, cells, value)
        np.maximum.at(high, cells, value)
        m.min, m.max = low.reshape(self.rows.shape), high.reshape(self.rows.shape)
        return self.merge(other)

    def merge(self, other: LayerSums) -> LayerSums:
        if (other.layers, other.metrics) != (self.layers, self.metrics):
            raise ValueError("cannot merge the sums of runs with other layers or metrics")
        self.rows = self.rows + other.rows
        self.count = self.count + other.count
        self.weighted = self.weighted + other.weighted
        self.moments.merge(other.moments)
        return self

    def cells(self, prefix: str) -> list[tuple[int, str, str, tuple[int, int, int]]]:
        """(layer, metric without ``prefix``, group, index) of every cell with rows whose metric starts
        with ``prefix``, sorted by layer, metric and group."""
        out = [(la, m[len(prefix):], g, (la, i, j)) for la in range(self.layers)
               for i, m in enumerate(self.metrics) if m.startswith(prefix)
               for j, g in enumerate(self.groups) if self.rows[la, i, j] > 0]
        return sorted(out, key=lambda c: c[:3])
