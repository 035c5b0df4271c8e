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
names are registered by ``headlens.metrics.decomposition``, this package registers the collectors.
"""

from __future__ import annotations

from ..collect import register as register_collector
from ..metrics.decomposition import ANALYSIS, FF_ANALYSIS, HEAD_METRICS  # the metrics' names (registered there)

__all__ = ["ANALYSIS", "FF_ANALYSIS", "HEAD_METRICS"]


def _collector(ff: bool):
    def make(cfg, lm):
        import os

        from ..errors import ConfigError
        from .analysis import Decomposer

        if ANALYSIS in cfg.analyses and FF_ANALYSIS in cfg.analyses:
            raise ConfigError(f"--analyses {FF_ANALYSIS} computes everything {ANALYSIS} does and the feed-forward maps; "
                              "name only one of them.")
        return Decomposer(lm, os.path.join(os.path.abspath(cfg.out), "maps"), ff=ff)

    return make


register_collector(ANALYSIS, _collector(False))
register_collector(FF_ANALYSIS, _collector(True))
