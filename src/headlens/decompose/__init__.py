"""Component-wise contextualization (Kobayashi et al. 2020, 2021, 2024): ``--analyses decomposition``.

Each layer's output is split by source token through attention, residual, LayerNorm and the
feed-forward block (``terms.py``; integrated gradients in ``ig.py``), checked for completeness
at every stage, and reduced per sentence (``summary.py``, ``analysis.py``); the tables are read
with ``tables.read(run)`` and summarised by ``headlens.analyses.decomposition``. See
docs/decomposition.md.

``--analyses decomposition`` computes the attention block's maps (Attn-W, Attn-N, AttnRes-W,
AttnRes-N, ATB); ``--analyses decomposition_ff`` adds the feed-forward block's (ATBFF, ATBFFRES,
ATBFFRESLN), which cost a per-pair FF product (docs/decomposition.md gives the measured costs).

The per-head numbers are metrics of level ``parts`` (filled by the decomposition collector, not
by an attention view), so they land in ``scores/`` and ``heads.parquet`` like any metric; their
names are declared by ``headlens.analyses.decomposition.metrics``; ``collector(ff)`` makes the collector.
"""

from __future__ import annotations

ANALYSIS = "decomposition"
FF_ANALYSIS = "decomposition_ff"  # the same, plus the feed-forward maps (ATBFF, ATBFFRES, ATBFFRESLN): costly

__all__ = ["ANALYSIS", "FF_ANALYSIS", "collector"]


def collector(ff: bool):
    """The collector factory ``(cfg, lm) -> Decomposer`` of --analyses decomposition (``ff``: decomposition_ff)."""
    def make(cfg, lm):
        import os

        from ..errors import ConfigError
        from ..store import layout
        from .analysis import Decomposer

        if ANALYSIS in cfg.analyses and FF_ANALYSIS in cfg.analyses:
            raise ConfigError(f"--analyses {FF_ANALYSIS} computes everything {ANALYSIS} does and the feed-forward maps; "
                              "name only one of them.")
        return Decomposer(lm, os.path.join(os.path.abspath(cfg.out), layout.MAPS), ff=ff)

    return make

