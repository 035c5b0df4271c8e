"""Layer-wise representations (Peters et al. 2018; Hewitt & Liang 2019; Hewitt & Manning 2019;
Ethayarajh 2019; Kornblith et al. 2019): word and sentence vectors of every layer for a seeded
sample of sentences, probes with control tasks, the structural probe, context sensitivity and
linear CKA between runs. See docs/layers.md."""

from ..base import Analysis, part
from .metrics import METRICS
from .options import LayersOptions, LayersSettings

ANALYSIS = Analysis(
    name="layers", summary="per-layer probes (with control tasks), parse-tree geometry, context sensitivity, CKA",
    options=LayersOptions, metrics=METRICS, collect=part(__name__, "collect", "make"),
    settings=LayersSettings, analyse=part(__name__, "stats", "analyse"), save=part(__name__, "stats", "save"),
    view=part(__name__, "view", "layers_view"), script="scatter.js",
    figures=part(__name__, "figures", "draw_layers"), command=part(__name__, "cli", "add"),
    reference="Peters et al. 2018; Hewitt & Liang 2019; Hewitt & Manning 2019; Ethayarajh 2019; Kornblith et al. 2019",
)
