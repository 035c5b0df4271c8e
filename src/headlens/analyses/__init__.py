"""Analyses over a stored run: statistical tests and derived tables (per head, per layer).

An analysis that the run itself computes scores for may register a finalizer: ``headlens.run``
calls it on the finished run, so that ``--analyses roles`` leaves the role tables in the run
directory with the default settings (``headlens roles`` recomputes them with others).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..store import Run
from .categories import save_run_tables as save_categories
from .decomposition import save_decomposition
from .patterns import pattern_tables, save_patterns
from .cluster import ClusterResult, ClusterSettings, cluster_heads, save_cluster
from .roles import RoleResult, RoleSettings, head_roles, save_roles, unsupported_claims
from .syntax import SyntaxResult, SyntaxSettings, dependency_accuracy, save_syntax

FINALIZERS: dict[str, Callable[[Run], object]] = {
    "roles": lambda run: save_roles(run, head_roles(run)),
    "syntax": lambda run: save_syntax(run, dependency_accuracy(run)),
    "cluster": lambda run: save_cluster(run, cluster_heads(run)),
    "decomposition": save_decomposition,
    "decomposition_ff": save_decomposition,
    "categories": save_categories,
    "patterns": save_patterns,
}


def finalize(run: Run, analyses: Iterable[str]) -> None:
    for name in dict.fromkeys(analyses):
        if name in FINALIZERS:
            FINALIZERS[name](run)


__all__ = ["ClusterResult", "ClusterSettings", "RoleResult", "RoleSettings", "SyntaxResult", "SyntaxSettings",
           "cluster_heads", "dependency_accuracy", "finalize", "head_roles", "pattern_tables", "save_patterns", "save_cluster", "save_roles", "save_syntax",
           "unsupported_claims"]
