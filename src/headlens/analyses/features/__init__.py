"""Features of interest (Kovaleva et al. 2019, section 5): the attention that negation words,
[CLS], [SEP] and others receive."""

from ..base import Analysis
from .metrics import METRICS

ANALYSIS = Analysis(
    name="features", summary="attention received by features of interest (negation, [CLS], [SEP], ...)",
    metrics=METRICS, reference="Kovaleva et al. 2019, section 5",
)
