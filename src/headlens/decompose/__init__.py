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
by an attention view), so they land in ``scores/`` and ``heads.parquet`` like any metric.
"""

from __future__ import annotations

from ..collect import register as register_collector
from ..metrics.registry import Metric, register, register_analysis

ANALYSIS = "decomposition"
FF_ANALYSIS = "decomposition_ff"  # the same, plus the feed-forward maps (ATBFF, ATBFFRES, ATBFFRESLN): costly
HEAD_METRICS = {
    "dec_fnorm": "mean ||f_h(x_j)|| over the sentence's tokens (value vector through W_O, Kobayashi 2020)",
    "dec_fnorm_word": "mean ||f_h(x_j)|| over tokens of non-punctuation words",
    "dec_fnorm_punct": "mean ||f_h(x_j)|| over punctuation tokens",
    "dec_fnorm_cls": "||f_h(x_j)|| of the [CLS]/<s> token",
    "dec_fnorm_sep": "mean ||f_h(x_j)|| over [SEP]/</s> tokens",
    "dec_mix_w": "head mixing ratio by weights: mean over tokens of 1 - alpha_ii",
    "dec_mix_n": "head mixing ratio by norms: ||sum_{j!=i} alpha_ij f(x_j)|| / (that + ||alpha_ii f(x_i)||)",
}


def _computed_by_the_collector(view):
    raise NotImplementedError("decomposition metrics are filled by the decomposition collector, not by a view")


for _name, _desc in HEAD_METRICS.items():
    register(Metric(_name, "parts", _desc, _computed_by_the_collector, ANALYSIS))


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
register_analysis(FF_ANALYSIS, lambda options: list(HEAD_METRICS))
