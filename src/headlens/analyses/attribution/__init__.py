"""Token attribution across layers (methods.md section 7): attention rollout and flow (Abnar & Zuidema 2020),
norm-based rollout (Kobayashi et al. 2021), ALTI (Ferrando et al. 2022) and value zeroing (Mohebbi et al. 2023),
rolled out and reduced per sentence over a whole corpus. See docs/attribution.md."""

from ..base import Analysis, part
from .metrics import METRICS
from .options import AttributionOptions, AttributionSettings

ANALYSIS = Analysis(
    name="attribution", summary="token attribution across layers: rollout, norm-based rollout, ALTI, value zeroing",
    options=AttributionOptions, metrics=METRICS, collect=part(__name__, "collect", "make"),
    finalize=part(__name__, "stats", "finalize"), settings=AttributionSettings,
    analyse=part(__name__, "stats", "attribution"), save=part(__name__, "stats", "save_attribution"),
    view=part(__name__, "view", "attribution_view"), required=("layers",),
    sentences=part(__name__, "view", "stored_sentences"), script="view.js",
    figures=part(__name__, "figures", "draw_attribution"), command=part(__name__, "cli", "add"),
    reference="Abnar & Zuidema 2020; Kobayashi et al. 2021; Ferrando et al. 2022; Mohebbi et al. 2023",
)
