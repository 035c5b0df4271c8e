"""The decomposition's per-head metrics (``--analyses decomposition``, ``decomposition_ff``): names only.

They are of level ``parts``: the decomposition collector (``headlens.decompose``) fills them from
each layer's parts, no attention view computes them. Declared here, apart from the
collector, so that the registry knows every metric without importing the decomposition (see docs/architecture.md).
"""

from __future__ import annotations

from ...metrics.registry import Metric, MetricSet

from ...decompose import ANALYSIS, FF_ANALYSIS
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


METRICS = MetricSet(ANALYSIS)
for _name, _desc in HEAD_METRICS.items():
    METRICS.add(Metric(_name, "parts", _desc, _computed_by_the_collector, ANALYSIS))
FF_METRICS = MetricSet(FF_ANALYSIS, lambda options: list(HEAD_METRICS))  # the same names, filled with the FF maps too
