"""Norm-based decomposition (Kobayashi et al. 2020, 2021, 2024): each layer's output split by
source token through attention, residual, LayerNorm and feed-forward. See docs/decomposition.md."""

from ...decompose import collector
from ..base import Analysis, part
from .metrics import FF_METRICS, METRICS

_stats = dict(finalize=part(__name__, "stats", "save_decomposition"), view=part(__name__, "view", "decomposition_view"),
              figures=part(__name__, "figures", "draw_mixing"), reference="Kobayashi et al. 2020, 2021, 2024")
ANALYSIS = Analysis(
    name="decomposition", summary="the attention block's norm-based maps and mixing ratios",
    metrics=METRICS, collect=collector(False), command=part(__name__, "cli", "add"), **_stats,
)
FF = Analysis(
    name="decomposition_ff", summary="the decomposition with the feed-forward block's maps (costly)",
    metrics=FF_METRICS, collect=collector(True), **{**_stats, "figures": None},
)
