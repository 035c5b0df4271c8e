"""Surface statistics of each head's attention (Clark et al. 2019, section 3): entropy, the share
on [CLS], [SEP], punctuation, the previous / next / same token, at the token and word level.

``surface`` runs on the fused path (no T x T map); ``surface_rows`` holds the word-level
entropies, which read full rows (docs/performance.md)."""

from ..base import Analysis
from .metrics import METRICS, ROW_METRICS
from .options import SurfaceOptions

ANALYSIS = Analysis(
    name="surface", summary="Clark et al.'s surface statistics: entropy, [CLS], [SEP], punctuation, prev/next/self",
    options=SurfaceOptions, metrics=METRICS, reference="Clark et al. 2019, section 3; docs/methods.md, docs/fidelity.md",
)
ROWS = Analysis(
    name="surface_rows", summary="the word-level entropies (full attention rows)",
    metrics=ROW_METRICS, reference="Clark et al. 2019, section 3.2",
)
