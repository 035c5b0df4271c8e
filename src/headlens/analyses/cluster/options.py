"""The settings of the cluster analysis' map (no hypothesis family: a plain Options class)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import param_error
from ...options import SeedOptions, option


@dataclass(frozen=True)
class ClusterSettings(SeedOptions):
    """How ``headlens cluster`` draws the head map and tests that heads of one layer cluster
    (``seed``: of the permutations)."""

    n_perm: int = option(1000, "permutations of the layer-clustering test")
    max_iter: int = option(500, "iterations of the metric MDS (SMACOF)")
    name: str = option("default", "output directory under RUN/cluster/")

    def check(self) -> None:
        for field in ("n_perm", "max_iter"):
            if getattr(self, field) < 1:
                raise param_error(type(self).__name__, field, "an int >= 1", getattr(self, field))
